package postgres_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/bench"
	"github.com/hookd/hookd/hookdtest"
)

// TestBenchNodesShareWork runs `hookd bench --nodes 3` as a user would: three real
// servers on one schema, messages sent to each in turn, every delivery verified.
func TestBenchNodesShareWork(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	cfg := bench.DefaultConfig()
	cfg.ServerCommand = []string{bin, "serve"}
	cfg.Store, cfg.DB, cfg.Nodes = "postgres", clusterDSN(t), 3
	cfg.Messages, cfg.Fanout, cfg.Concurrency = 300, 2, 12
	cfg.CeilingDuration = time.Second
	cfg.Timeout = 2 * time.Minute
	res, err := bench.Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p := res.Problems(); len(p) != 0 {
		t.Errorf("Problems() = %q", p)
	}
	if res.Nodes != 3 || res.Deliveries != 600 || res.Lost != 0 {
		t.Errorf("nodes %d deliveries %d lost %d, want 3, 600, 0", res.Nodes, res.Deliveries, res.Lost)
	}
	if res.PeakRSSMB == nil || res.ServerCPUS <= 0 || res.DeliveriesPerS <= 0 {
		t.Errorf("server figures not measured: rss %v cpu %v rate %v", res.PeakRSSMB, res.ServerCPUS, res.DeliveriesPerS)
	}
}

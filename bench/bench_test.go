package bench_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/bench"
	"github.com/hookd/hookd/server"
)

const adminToken = "bench-test-admin-token-0123456789"

// startServer runs a hookd server in-process on a free port with a fresh SQLite file.
func startServer(t *testing.T, retry string) string {
	url, _ := startServerDB(t, retry)
	return url
}

// startServerDB is startServer that also returns the database's path.
func startServerDB(t *testing.T, retry string) (url, db string) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "hookd.db")
	cfg.AdminToken = adminToken
	cfg.AllowPrivate = true
	if retry != "" {
		rs, err := hookd.ParseRetrySchedule(retry)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RetrySchedule = rs
	}
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL(), cfg.DB
}

// TestPreload fills the store before a run and reads the attempt lists after it.
func TestPreload(t *testing.T) {
	url, db := startServerDB(t, "")
	start := time.Now().UnixMicro()
	cfg := quickConfig(url)
	cfg.DB, cfg.Messages, cfg.Fanout, cfg.Preload, cfg.ListRequests = db, 50, 3, 1005, 5
	cfg.CeilingDuration, cfg.RelayDuration = 0, 0
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p := res.Problems(); len(p) != 0 || res.Deliveries != 150 {
		t.Fatalf("deliveries %d, problems %q", res.Deliveries, p)
	}
	if res.Preload != 1005 || res.PreloadS <= 0 || res.EndpointAttemptsLatencyMS.Max <= 0 || res.MessageAttemptsLatencyMS.Max <= 0 {
		t.Errorf("preload %d in %vs, list latencies %+v %+v", res.Preload, res.PreloadS, res.MessageAttemptsLatencyMS, res.EndpointAttemptsLatencyMS)
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var attempts, messages, deliveries, wrong int
	// The preloaded rows are those from before the run.
	if err := conn.QueryRow(`SELECT (SELECT count(*) FROM attempts WHERE timestamp < ?1),
		(SELECT count(*) FROM messages WHERE timestamp < ?1),
		(SELECT count(*) FROM deliveries WHERE created_at < ?1),
		(SELECT count(*) FROM deliveries d WHERE created_at < ?1 AND d.attempts <> (SELECT count(*) FROM attempts a
			WHERE a.msg_id = d.msg_id AND a.endpoint_id = d.endpoint_id))`, start).Scan(&attempts, &messages, &deliveries, &wrong); err != nil {
		t.Fatal(err)
	}
	// 1005 attempts over 101 messages to 3 endpoints (the last message has 5 attempts).
	if attempts != 1005 || messages != 101 || deliveries != 101*3 || wrong != 0 {
		t.Errorf("%d attempts, %d messages, %d deliveries (%d with a wrong attempt count)", attempts, messages, deliveries, wrong)
	}
}

// TestBacklogBulk writes the backlog into the store with bulk SQL and checks that the
// server claimed, sent and recorded every one of its deliveries.
func TestBacklogBulk(t *testing.T) {
	url, db := startServerDB(t, "")
	cfg := quickConfig(url)
	cfg.DB, cfg.Backlog, cfg.BacklogBulk, cfg.Fanout, cfg.ListRequests = db, 250, true, 3, 2
	cfg.CeilingDuration, cfg.RelayDuration = 0, 0
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p := res.Problems(); len(p) != 0 || res.Messages != 250 || res.Deliveries != 750 {
		t.Fatalf("%d messages, %d deliveries, problems %q", res.Messages, res.Deliveries, p)
	}
	if !res.BacklogBulk || res.BacklogWriteS <= 0 || res.DrainS <= 0 || res.DeliveriesPerS <= 0 || res.MessageAttemptsLatencyMS.Max <= 0 {
		t.Errorf("bulk %v written in %vs, drained in %vs at %v/s, list %+v", res.BacklogBulk, res.BacklogWriteS, res.DrainS, res.DeliveriesPerS, res.MessageAttemptsLatencyMS)
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server records the attempts shortly after the receiver has answered them.
	var messages, done, successes int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := conn.QueryRow(`SELECT (SELECT count(*) FROM messages),
			(SELECT count(*) FROM deliveries WHERE status = ? AND attempts = 1),
			(SELECT count(*) FROM attempts WHERE status = ?)`, int(hookd.StatusSuccess), int(hookd.StatusSuccess)).Scan(&messages, &done, &successes); err != nil {
			t.Fatal(err)
		}
		if done == 750 || time.Now().After(deadline) {
			break
		}
	}
	if messages != 250 || done != 750 || successes != 750 {
		t.Errorf("%d messages, %d deliveries done at the first attempt, %d successful attempts; want 250, 750, 750", messages, done, successes)
	}
}

func quickConfig(url string) bench.Config {
	cfg := bench.DefaultConfig()
	cfg.URL = url
	cfg.Token = adminToken
	cfg.Concurrency = 8
	cfg.CeilingDuration = 2 * time.Second
	cfg.RelayDuration = 2 * time.Second
	cfg.Timeout = 30 * time.Second
	return cfg
}

func TestRun(t *testing.T) {
	url := startServer(t, "100ms,100ms,100ms,100ms,100ms")
	tests := []struct {
		name          string
		messages      int
		fanout        int
		failing       float64
		backlog       int
		noKeys        bool
		wantDelivered int64
	}{
		{name: "fanout 2", messages: 200, fanout: 2, wantDelivered: 400},
		{name: "failing first attempts", messages: 50, fanout: 1, failing: 0.5, wantDelivered: 50},
		{name: "backlog", fanout: 3, backlog: 60, wantDelivered: 180},
		{name: "without idempotency keys", messages: 100, fanout: 1, noKeys: true, wantDelivered: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := quickConfig(url)
			cfg.Messages, cfg.Fanout, cfg.FailingRatio, cfg.Backlog = tt.messages, tt.fanout, tt.failing, tt.backlog
			cfg.IdempotencyKeys = !tt.noKeys
			res, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Deliveries != tt.wantDelivered || res.Lost != 0 || res.InvalidSignatures != 0 {
				t.Errorf("deliveries %d lost %d invalid %d, want %d, 0, 0", res.Deliveries, res.Lost, res.InvalidSignatures, tt.wantDelivered)
			}
			if tt.failing == 0 && res.Duplicates != 0 {
				t.Errorf("duplicates = %d without injected failures", res.Duplicates)
			}
			if tt.failing > 0 && res.FailedOnPurpose == 0 {
				t.Errorf("failed_on_purpose = 0 with failing ratio %v", tt.failing)
			}
			if p := res.Problems(); len(p) != 0 {
				t.Errorf("Problems() = %q", p)
			}
			if res.DeliveriesPerS <= 0 || res.CeilingPerS <= 0 || res.Ratio <= 0 || res.IngestPerS <= 0 ||
				res.RelayCeilingPerS <= 0 || res.RelayRatio <= 0 {
				t.Errorf("rates not measured: %+v", res)
			}
			if res.RelayDeliveries < int64(tt.wantDelivered) || res.RelayCommits <= 0 || res.RelayCommits > res.RelayDeliveries {
				t.Errorf("relay: %d deliveries in %d fsyncs, want at least %d deliveries", res.RelayDeliveries, res.RelayCommits, tt.wantDelivered)
			}
			if res.IdempotencyKeys != !tt.noKeys {
				t.Errorf("idempotency_keys = %v", res.IdempotencyKeys)
			}
			// Each delivery's end-to-end latency includes its API round trip, so no
			// percentile of it is below accept → receipt's.
			e, a := res.EndToEndLatencyMS, res.LatencyMS
			if e.Max <= 0 || e.P50 < a.P50 || e.P99 < a.P99 || e.Max < a.Max {
				t.Errorf("end to end latency %+v, accept latency %+v", e, a)
			}
		})
	}
}

func TestResultJSON(t *testing.T) {
	data, err := json.Marshal(bench.Result{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"messages", "deliveries", "deliveries_per_s", "ceiling_per_s", "ratio", "latency_ms",
		"ingest_per_s", "peak_rss_mb", "lost", "duplicates", "invalid_signatures",
		"relay_ceiling_per_s", "relay_ratio", "idempotency_keys",
		"floor_per_s", "floor_ratio", "floor_ceiling_ratio", "floor_commits", "floor_deliveries",
		"server_cpu_per_delivery_ms", "relay_cpu_per_delivery_ms", "floor_cpu_per_delivery_ms",
	} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON result lacks %q: %s", key, data)
		}
	}
	for _, name := range []string{"latency_ms", "end_to_end_latency_ms"} {
		lat, _ := m[name].(map[string]any)
		for _, key := range []string{"p50", "p90", "p99", "max"} {
			if _, ok := lat[key]; !ok {
				t.Errorf("%s lacks %q", name, key)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*bench.Config)
		field string // "" means valid
	}{
		{name: "default with url", edit: func(*bench.Config) {}},
		{name: "no server", edit: func(c *bench.Config) { c.URL = "" }, field: "url"},
		{name: "url without token", edit: func(c *bench.Config) { c.Token = "" }, field: "token"},
		{name: "unknown store", edit: func(c *bench.Config) { c.Store = "mysql" }, field: "store"},
		{name: "postgres without dsn", edit: func(c *bench.Config) {
			c.URL, c.ServerCommand, c.Store = "", []string{"hookd", "serve"}, "postgres"
		}, field: "db"},
		{name: "nothing to send", edit: func(c *bench.Config) { c.Messages = 0 }, field: "messages"},
		{name: "zero fanout", edit: func(c *bench.Config) { c.Fanout = 0 }, field: "fanout"},
		{name: "ratio above 1", edit: func(c *bench.Config) { c.FailingRatio = 1.5 }, field: "failing-ratio"},
		{name: "tiny payload", edit: func(c *bench.Config) { c.PayloadBytes = 4 }, field: "payload-size"},
		{name: "rate with backlog", edit: func(c *bench.Config) { c.Rate, c.Backlog = 10, 10 }, field: "rate"},
		{name: "nodes on sqlite", edit: func(c *bench.Config) {
			c.URL, c.ServerCommand, c.Nodes = "", []string{"hookd", "serve"}, 3
		}, field: "nodes"},
		{name: "nodes with url", edit: func(c *bench.Config) { c.Nodes, c.Store = 2, "postgres" }, field: "nodes"},
		{name: "negative nodes", edit: func(c *bench.Config) { c.Nodes = -1 }, field: "nodes"},
		{name: "unknown profile", edit: func(c *bench.Config) { c.Profile = "nope" }, field: "profile"},
		{name: "preload with url, no db", edit: func(c *bench.Config) { c.Preload = 10 }, field: "preload"},
		{name: "bulk backlog without backlog", edit: func(c *bench.Config) { c.BacklogBulk, c.DB = true, "x.db" }, field: "backlog-bulk"},
		{name: "bulk backlog with url, no db", edit: func(c *bench.Config) { c.BacklogBulk, c.Backlog = true, 10 }, field: "backlog-bulk"},
		{name: "bulk backlog ordered", edit: func(c *bench.Config) { c.BacklogBulk, c.Backlog, c.DB, c.FIFO = true, 10, "x.db", true }, field: "backlog-bulk"},
		{name: "negative relay duration", edit: func(c *bench.Config) { c.RelayDuration = -time.Second }, field: "relay-duration"},
		{name: "negative floor duration", edit: func(c *bench.Config) { c.FloorDuration = -time.Second }, field: "floor-duration"},
		{name: "postgres floor with url, no db", edit: func(c *bench.Config) {
			c.FloorDuration, c.Store = time.Second, "postgres"
		}, field: "floor-duration"},
		{name: "sqlite floor with url", edit: func(c *bench.Config) { c.FloorDuration = time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := quickConfig("http://127.0.0.1:1")
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field+":")):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

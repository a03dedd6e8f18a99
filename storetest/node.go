package storetest

import (
	"testing"
	"time"
)

var nodeTests = []test{
	{"HeartbeatCountsLiveNodes", func(t *testing.T, f *fixture) {
		const ttl = 15 * time.Second
		beat := func(id string, at time.Time, want int) {
			t.Helper()
			n, err := f.s.Heartbeat(f.ctx, id, at, ttl)
			must(t, err)
			if n != want {
				t.Errorf("Heartbeat(%s, t0+%s) = %d nodes, want %d", id, at.Sub(t0), n, want)
			}
		}
		beat("node_a", t0, 1)
		beat("node_a", t0.Add(time.Second), 1) // the same node again
		beat("node_b", t0.Add(2*time.Second), 2)
		beat("node_c", t0.Add(3*time.Second), 3)
		// node_a's last heartbeat (t0+1s) is older than the ttl by t0+17s.
		beat("node_b", t0.Add(17*time.Second), 2)
		// A node that comes back counts again; node_c (t0+3s) is now out of the ttl.
		beat("node_a", t0.Add(18*time.Second), 2)
		// Alone after everyone else went quiet; a node always counts itself.
		beat("node_c", t0.Add(time.Hour), 1)
	}},
	{"RemoveNode", func(t *testing.T, f *fixture) {
		const ttl = 15 * time.Second
		_, err := f.s.Heartbeat(f.ctx, "node_a", t0, ttl)
		must(t, err)
		must(t, f.s.RemoveNode(f.ctx, "node_a"))
		must(t, f.s.RemoveNode(f.ctx, "node_unknown")) // forgetting an unknown node is no error
		n, err := f.s.Heartbeat(f.ctx, "node_b", t0.Add(time.Second), ttl)
		must(t, err)
		if n != 1 {
			t.Errorf("Heartbeat after node_a left = %d nodes, want 1", n)
		}
	}},
}

package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
)

// TestDeduplicationAcrossNodes runs two servers on one PostgreSQL schema and sends
// messages with the same eventId, or the same Idempotency-Key, to both, one after
// the other and at once: each makes one message, whichever node is asked.
func TestDeduplicationAcrossNodes(t *testing.T) {
	db := postgresDB(t)
	nodes := []*testServer{
		startServer(t, func(c *server.Config) { c.DB = db }),
		startServer(t, func(c *server.Config) { c.DB = db }),
	}
	if code, body := nodes[0].raw(t, "POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create app: %d %s", code, body)
	}
	send := func(ts *testServer, body string, header ...string) (int, string) {
		code, b := ts.raw(t, "POST", "/api/v1/app/acme/msg", body, header...)
		var out struct{ ID string }
		_ = json.Unmarshal(b, &out)
		return code, out.ID
	}
	count := func(eventType string) int {
		code, b := nodes[1].raw(t, "GET", "/api/v1/app/acme/msg?limit=250&event_types="+eventType, "")
		var list struct{ Data []json.RawMessage }
		if code != http.StatusOK || json.Unmarshal(b, &list) != nil {
			t.Fatalf("list messages: %d %s", code, b)
		}
		return len(list.Data)
	}

	t.Run("idempotency key, one node after the other", func(t *testing.T) {
		body := `{"eventType":"seq.key","payload":{"n":1}}`
		c1, id1 := send(nodes[0], body, "Idempotency-Key", "seq-key")
		c2, id2 := send(nodes[1], body, "Idempotency-Key", "seq-key")
		if c1 != http.StatusAccepted || c2 != http.StatusAccepted || id1 == "" || id1 != id2 {
			t.Fatalf("node 0: %d %s; node 1: %d %s; want the same message twice", c1, id1, c2, id2)
		}
		if n := count("seq.key"); n != 1 {
			t.Fatalf("%d messages stored, want 1", n)
		}
	})
	t.Run("eventId, one node after the other", func(t *testing.T) {
		body := `{"eventType":"seq.event","eventId":"evt-seq","payload":{"n":1}}`
		if c, _ := send(nodes[0], body); c != http.StatusAccepted {
			t.Fatalf("first send: %d", c)
		}
		if c, _ := send(nodes[1], body); c != http.StatusConflict {
			t.Fatalf("second send on the other node: %d, want 409", c)
		}
		if n := count("seq.event"); n != 1 {
			t.Fatalf("%d messages stored, want 1", n)
		}
	})
	t.Run("eventId, all nodes at once", func(t *testing.T) {
		const tries = 8
		codes := make([]int, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = send(nodes[i%len(nodes)], `{"eventType":"race.event","eventId":"evt-race","payload":{}}`)
			}()
		}
		wg.Wait()
		accepted := 0
		for _, c := range codes {
			switch c {
			case http.StatusAccepted:
				accepted++
			case http.StatusConflict:
			default:
				t.Errorf("status %d, want 202 or 409", c)
			}
		}
		if accepted != 1 {
			t.Fatalf("%d sends accepted (%v), want 1", accepted, codes)
		}
		if n := count("race.event"); n != 1 {
			t.Fatalf("%d messages stored, want 1", n)
		}
	})
	t.Run("idempotency key, all nodes at once", func(t *testing.T) {
		const tries = 8
		codes, ids := make([]int, tries), make([]string, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], ids[i] = send(nodes[i%len(nodes)], `{"eventType":"race.key","payload":{}}`, "Idempotency-Key", "race-key")
			}()
		}
		wg.Wait()
		if n := count("race.key"); n != 1 {
			t.Fatalf("%d messages stored (answers %v %v), want 1", n, codes, ids)
		}
		// A send that finds the key in flight on the other node gets 409; every
		// 202 is the one message.
		first := ""
		for i, c := range codes {
			switch c {
			case http.StatusAccepted:
				if first == "" {
					first = ids[i]
				}
				if ids[i] == "" || ids[i] != first {
					t.Errorf("send %d: 202 with message %q, want %q", i, ids[i], first)
				}
			case http.StatusConflict:
			default:
				t.Errorf("send %d: status %d, want 202 or 409", i, c)
			}
		}
	})
}

// TestNodesCountEachOther runs two servers on one PostgreSQL schema: within a
// heartbeat or two, each reports the two of them in the hookd_nodes metric. When one
// stops, it leaves the node list, and the other counts itself alone at its next
// heartbeat rather than after the missed heartbeats have aged out.
func TestNodesCountEachOther(t *testing.T) {
	t.Parallel()
	db := postgresDB(t)
	nodes := []*testServer{
		startServer(t, func(c *server.Config) { c.DB = db }),
		startServer(t, func(c *server.Config) { c.DB = db }),
	}
	gauge := func(ts *testServer) string {
		code, b := ts.raw(t, "GET", "/metrics", "")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", code)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "hookd_nodes "); ok {
				return v
			}
		}
		return "absent"
	}
	waitGauge := func(i int, want string, within time.Duration) {
		t.Helper()
		v := gauge(nodes[i])
		for deadline := time.Now().Add(within); v != want && time.Now().Before(deadline); v = gauge(nodes[i]) {
			time.Sleep(100 * time.Millisecond)
		}
		if v != want {
			t.Fatalf("node %d: hookd_nodes %s, want %s", i, v, want)
		}
	}
	waitGauge(0, "2", 15*time.Second)
	waitGauge(1, "2", 15*time.Second)
	if err := nodes[1].srv.Close(); err != nil {
		t.Fatal(err)
	}
	// A heartbeat comes every 5 s; a stopped node that did not deregister would count for 15 s.
	waitGauge(0, "1", 12*time.Second)
}

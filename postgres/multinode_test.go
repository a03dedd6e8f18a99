package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

// The multi-node tests run real `hookd serve` processes against one schema.

const clusterToken = "multinode-admin-token-0123456789" // 32 characters

// receiver counts deliveries by the message number in the payload.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	seen  map[int]int
	total int
	full  chan struct{} // closed once every one of want numbers has arrived
	want  int
	last  time.Time
}

func newReceiver(t *testing.T, want int) *receiver {
	r := &receiver{seen: map[int]int{}, full: make(chan struct{}), want: want}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct{ N int }
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil || req.Header.Get("webhook-id") == "" {
			http.Error(w, "bad webhook", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.seen[body.N]++
		r.total++
		if len(r.seen) == r.want && r.seen[body.N] == 1 {
			r.last = time.Now()
			close(r.full)
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// counts returns how many distinct numbers and how many deliveries arrived.
func (r *receiver) counts() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), r.total
}

// clusterDSN returns the test DSN with a fresh schema as its search_path.
func clusterDSN(t *testing.T) string {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	if _, err := url.Parse(dsn); err != nil || !strings.Contains(dsn, "://") {
		t.Fatalf("HOOKD_TEST_POSTGRES must be a postgres:// URL (%v)", err)
	}
	// Appended as text: re-encoding the query would change its other parameters.
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// cluster is several nodes on one schema with one application whose endpoint is a
// counting receiver.
type cluster struct {
	nodes []*hookdtest.Process
	rcv   *receiver
	appID string
	api   hookdtest.API
	// busy counts answers that the Idempotency-Key is held by another request.
	busy atomic.Int64
}

func startCluster(t *testing.T, nodes, messages int, extra ...string) *cluster {
	bin := hookdtest.BuildBinary(t)
	if err := exec.Command(bin, "serve", "--help").Run(); err != nil {
		t.Skipf("this hookd has no serve command yet (%v): skipping the multi-node test", err)
	}
	dsn := clusterDSN(t)
	c := &cluster{rcv: newReceiver(t, messages), api: hookdtest.API{Token: clusterToken,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}}
	args := append([]string{"--db", dsn, "--addr", "127.0.0.1:0", "--allow-private", "--admin-token", clusterToken,
		"--encryption-key", "bXVsdGlub2RlLXRlc3QtZW5jcnlwdGlvbi1rZXktMDE="}, extra...)
	for range nodes {
		c.nodes = append(c.nodes, hookdtest.StartServe(t, bin, nil, args...))
	}
	var app struct{ ID string }
	if _, err := c.api.Do(t.Context(), "POST", c.nodes[0].URL+"/api/v1/app", nil, map[string]any{"name": "multinode"}, &app); err != nil {
		t.Fatal(err)
	}
	c.appID = app.ID
	if _, err := c.api.Do(t.Context(), "POST", c.nodes[0].URL+"/api/v1/app/"+app.ID+"/endpoint", nil,
		map[string]any{"url": c.rcv.srv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// send posts message n to the nodes in turn starting at n's own node, moving on to
// the next live node when one fails, with the same eventId every time: a message is
// accepted once, whichever node took it. The Idempotency-Key stays the same too,
// except after a node answered that another request holds it (its node was killed
// mid-request and the claim stays busy until it is stale): the retry then takes a
// new key and relies on the eventId alone.
func (c *cluster) send(ctx context.Context, n int) error {
	key := "msg-" + strconv.Itoa(n)
	in := map[string]any{"eventType": "multinode.test", "eventId": "msg-" + strconv.Itoa(n), "payload": map[string]any{"n": n}}
	var errs []error
	for i := range 3 * len(c.nodes) {
		nd := c.nodes[(n+i)%len(c.nodes)]
		if nd.Exited() {
			continue
		}
		status, err := c.api.Do(ctx, "POST", nd.URL+"/api/v1/app/"+c.appID+"/msg", http.Header{"Idempotency-Key": {key}}, in, nil)
		if err == nil {
			return nil
		}
		if status == http.StatusConflict {
			if !strings.Contains(err.Error(), `"idempotency_conflict"`) {
				return nil // the eventId exists: an earlier try was accepted
			}
			c.busy.Add(1)
			key = "msg-" + strconv.Itoa(n) + "-retry-" + strconv.Itoa(i)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("message %d not accepted: %w", n, errors.Join(errs...))
}

// sendAll sends messages 0…total-1 with conc concurrent clients; after kill has been
// reached (if > 0) it calls onKill once.
func (c *cluster) sendAll(ctx context.Context, total, conc, killAt int, onKill func()) error {
	var next, sent atomic.Int64
	var once sync.Once
	errc := make(chan error, conc)
	for range conc {
		go func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= total {
					errc <- nil
					return
				}
				if err := c.send(ctx, n); err != nil {
					errc <- err
					return
				}
				if s := sent.Add(1); killAt > 0 && int(s) >= killAt {
					once.Do(onKill)
				}
			}
		}()
	}
	var errs []error
	for range conc {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TestMultiNode runs three nodes on one database, sends 5,000 messages round-robin
// to them and kills one with SIGKILL halfway; the receiver must end with every
// message. Duplicates (at-least-once delivery) and the time to finish are logged.
func TestMultiNode(t *testing.T) {
	testDSN(t)
	if testing.Short() {
		t.Skip("skipping the multi-node test in -short mode")
	}
	const messages = 5000
	// A short request timeout gives a short lease (twice the timeout), so the killed
	// node's claimed deliveries come back within seconds.
	c := startCluster(t, 3, messages, "--request-timeout", "3s")

	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	start := time.Now()
	var killedAt time.Duration
	err := c.sendAll(ctx, messages, 24, messages/2, func() {
		killedAt = time.Since(start)
		c.nodes[1].Kill()
	})
	if err != nil {
		t.Fatalf("sending: %v", err)
	}
	sentIn := time.Since(start)

	select {
	case <-c.rcv.full:
	case <-ctx.Done():
		distinct, total := c.rcv.counts()
		t.Fatalf("after %s the receiver has %d of %d messages (%d deliveries)", time.Since(start).Round(time.Millisecond), distinct, messages, total)
	}
	c.rcv.mu.Lock()
	finished := c.rcv.last.Sub(start)
	c.rcv.mu.Unlock()
	// Deliveries still in flight when the last message arrived may add duplicates;
	// wait briefly so the figure includes them.
	time.Sleep(time.Second)
	distinct, total := c.rcv.counts()
	if distinct != messages {
		t.Fatalf("receiver has %d distinct messages, want %d", distinct, messages)
	}
	t.Logf("3 nodes, node 2 killed (SIGKILL) after %s at %d messages sent; all %d sent in %s; all %d received in %s; %d duplicate deliveries; %d retries with a busy Idempotency-Key",
		killedAt.Round(time.Millisecond), messages/2, messages, sentIn.Round(time.Millisecond), messages,
		finished.Round(time.Millisecond), total-distinct, c.busy.Load())
}

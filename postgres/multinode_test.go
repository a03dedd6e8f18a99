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

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
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

// missing returns the numbers below want that have not arrived, in order.
func (r *receiver) missing() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ns []int
	for n := range r.want {
		if r.seen[n] == 0 {
			ns = append(ns, n)
		}
	}
	return ns
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
	dsn   string
	appID string
	api   hookdtest.API
	// busy counts answers that the Idempotency-Key is held by another request.
	busy atomic.Int64
	// start is when sendAll began; tries[n] lists message n's tries, each the node
	// and when, with its answer, for the failure report (each is written by the one
	// client that sends n, and read once sendAll has returned). A try that ended in
	// "connection refused" may still have been accepted: net/http sends a request
	// with an Idempotency-Key again by itself on a new connection when its kept-alive
	// one breaks, so the refusal can be the answer to that second send.
	start time.Time
	tries [][]string
}

func startCluster(t *testing.T, nodes, messages int, extra ...string) *cluster {
	bin := hookdtest.BuildBinary(t)
	if err := exec.Command(bin, "serve", "--help").Run(); err != nil {
		t.Skipf("this hookd has no serve command yet (%v): skipping the multi-node test", err)
	}
	dsn := clusterDSN(t)
	c := &cluster{rcv: newReceiver(t, messages), dsn: dsn, api: hookdtest.API{Token: clusterToken,
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

// explain logs, for the first ten missing message numbers, the tries that sent the
// message and what the store holds of it: its message row, its deliveries and their
// attempts, read while the nodes still run. Times are since sendAll began.
func (c *cluster) explain(t *testing.T, missing []int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.storeConn(ctx, t)
	if err != nil {
		t.Logf("explain: %v", err)
		return
	}
	since := func(at time.Time) string { return at.Sub(c.start).Round(time.Millisecond).String() }
	t.Logf("missing %d messages, the store read at %s", len(missing), since(time.Now()))
	for _, n := range missing[:min(len(missing), 10)] {
		t.Logf("message %d: tries %s", n, strings.Join(c.tries[n], "; "))
		var id string
		var ts time.Time
		err := conn.QueryRow(ctx, `SELECT id, timestamp FROM messages WHERE app_id = $1 AND event_id = $2`,
			c.appID, "msg-"+strconv.Itoa(n)).Scan(&id, &ts)
		if err != nil {
			t.Logf("  no message row: %v", err)
			continue
		}
		t.Logf("  message %s accepted at %s", id, since(ts))
		rows, _ := conn.Query(ctx, `SELECT id, status, attempts, next_attempt, trigger, lease, created_at, updated_at
			FROM deliveries WHERE msg_id = $1 ORDER BY id`, id)
		var d struct {
			id                     string
			status                 hookd.Status
			attempts, trigger      int
			lease                  int64
			next, created, updated time.Time
		}
		_, err = pgx.ForEachRow(rows, []any{&d.id, &d.status, &d.attempts, &d.next, &d.trigger, &d.lease, &d.created, &d.updated}, func() error {
			t.Logf("  delivery %s: %s, %d attempts, next attempt %s, trigger %d, lease %d, created %s, updated %s",
				d.id, d.status, d.attempts, since(d.next), d.trigger, d.lease, since(d.created), since(d.updated))
			return nil
		})
		if err != nil {
			t.Logf("  deliveries: %v", err)
		}
		rows, _ = conn.Query(ctx, `SELECT id, status, response_status_code, error, trigger, timestamp
			FROM attempts WHERE msg_id = $1 ORDER BY id`, id)
		var a struct {
			id, error     string
			status        hookd.Status
			code, trigger int
			at            time.Time
		}
		_, err = pgx.ForEachRow(rows, []any{&a.id, &a.status, &a.code, &a.error, &a.trigger, &a.at}, func() error {
			t.Logf("  attempt %s at %s: %s, code %d, trigger %d, error %q", a.id, since(a.at), a.status, a.code, a.trigger, a.error)
			return nil
		})
		if err != nil {
			t.Logf("  attempts: %v", err)
		}
	}
}

// storeConn connects to the cluster's schema, for the test's reports; the connection
// is closed when the test ends, before the schema is dropped.
func (c *cluster) storeConn(ctx context.Context, t *testing.T) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, c.dsn)
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
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
		at := time.Since(c.start)
		status, err := c.api.Do(ctx, "POST", nd.URL+"/api/v1/app/"+c.appID+"/msg", http.Header{"Idempotency-Key": {key}}, in, nil)
		c.tries[n] = append(c.tries[n], fmt.Sprintf("node %d at %s-%s: %d %v", (n+i)%len(c.nodes)+1,
			at.Round(time.Millisecond), time.Since(c.start).Round(time.Millisecond), status, err))
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
	c.start, c.tries = time.Now(), make([][]string, total)
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
		c.explain(t, c.rcv.missing())
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
	t.Logf("3 nodes, node 2 killed (SIGKILL) after %s at %d messages sent; all %d sent in %s; all %d received in %s; %d duplicate deliveries; %d retries with a busy Idempotency-Key; failed attempts recorded: %s",
		killedAt.Round(time.Millisecond), messages/2, messages, sentIn.Round(time.Millisecond), messages,
		finished.Round(time.Millisecond), total-distinct, c.busy.Load(), c.failedAttempts(t))
}

// failedAttempts counts the failed attempts the nodes recorded, by error. The
// receiver answers every webhook 204, so each is a fault of the sending side (or a
// request the machine's load timed out), each one costing its delivery a retry
// delay.
func (c *cluster) failedAttempts(t *testing.T) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.storeConn(ctx, t)
	if err != nil {
		return err.Error()
	}
	rows, _ := conn.Query(ctx, `SELECT error, response_status_code, count(*) FROM attempts WHERE status = $1
		GROUP BY 1, 2 ORDER BY 3 DESC`, hookd.StatusFail)
	var out []string
	var msg string
	var code, n int
	_, err = pgx.ForEachRow(rows, []any{&msg, &code, &n}, func() error {
		out = append(out, fmt.Sprintf("%d × (%d %q)", n, code, msg))
		return nil
	})
	if err != nil {
		return err.Error()
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

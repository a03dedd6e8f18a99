package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/webhook"
	"github.com/hookd/hookd/webhook/webhooktest"
)

// testSecret is a valid Standard Webhooks secret (24 bytes).
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// otherSecret is a second valid secret, for rotation tests.
const otherSecret = "whsec_QWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="

// newClock returns the test clock, which moves only when told.
func newClock() *webhooktest.Clock {
	return webhooktest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// env is a dispatcher running on a real SQLite store with a test clock.
type env struct {
	t     *testing.T
	store *sqlite.Store
	clock *webhooktest.Clock
	ids   hookd.IDGen
	d     *delivery.Dispatcher
	app   *hookd.Application
	stop  func() // stops the dispatcher and waits for Run to return; cleanup calls it too
}

// newEnv starts a dispatcher. Without an option it uses the test clock, a short
// poll and no jitter; options change the configuration before New.
func newEnv(t *testing.T, opts ...func(*delivery.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := newClock()
	e := &env{t: t, store: st, clock: c, ids: hookd.IDGen{Now: c.Now}}
	cfg := delivery.Config{
		Store:          st,
		Now:            c.Now,
		IDs:            e.ids,
		RandFunc:       func() float64 { return 0.5 }, // jitter factor exactly 1
		Poll:           20 * time.Millisecond,
		AllowPrivate:   true,
		RequestTimeout: 5 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := delivery.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(e.stop)
	e.app = &hookd.Application{ID: e.ids.New(hookd.PrefixApp), UID: "acme", Name: "Acme", CreatedAt: c.Now(), UpdatedAt: c.Now()}
	if err := st.CreateApp(ctx, e.app); err != nil {
		t.Fatal(err)
	}
	return e
}

// endpoint creates an endpoint of the test application.
func (e *env) endpoint(url string, mods ...func(*hookd.Endpoint)) *hookd.Endpoint {
	e.t.Helper()
	now := e.clock.Now()
	ep := &hookd.Endpoint{
		ID: e.ids.New(hookd.PrefixEndpoint), AppID: e.app.ID, URL: url,
		Secrets: []hookd.Secret{{Key: testSecret}}, CreatedAt: now, UpdatedAt: now,
	}
	for _, m := range mods {
		m(ep)
	}
	if err := e.store.CreateEndpoint(context.Background(), ep); err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// send accepts a message the way the API does: one delivery per matching endpoint,
// committed with the message.
func (e *env) send(eventType string, channels []string, payload string) *hookd.Message {
	e.t.Helper()
	msg, ds := e.compose(eventType, channels, payload)
	if _, err := e.store.CreateMessage(context.Background(), msg, ds); err != nil {
		e.t.Fatal(err)
	}
	return msg
}

// compose builds a message and its pending deliveries, one per matching endpoint,
// without storing them.
func (e *env) compose(eventType string, channels []string, payload string) (*hookd.Message, []*hookd.Delivery) {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	msg := &hookd.Message{
		ID: e.ids.New(hookd.PrefixMessage), AppID: e.app.ID, EventType: eventType,
		Payload: json.RawMessage(payload), Channels: channels, Timestamp: now,
	}
	eps, err := e.store.AllEndpoints(ctx, e.app.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var ds []*hookd.Delivery
	for _, ep := range eps {
		if ep.Matches(eventType, channels) {
			ds = append(ds, &hookd.Delivery{
				ID: e.ids.New(hookd.PrefixDelivery), AppID: e.app.ID, MsgID: msg.ID, EndpointID: ep.ID,
				Status: hookd.StatusPending, NextAttempt: now, CreatedAt: now, UpdatedAt: now,
			})
		}
	}
	return msg, ds
}

// attempts returns the attempts of a message, oldest first.
func (e *env) attempts(msgID string) []*hookd.Attempt {
	e.t.Helper()
	as, err := e.store.AttemptsByMessage(context.Background(), e.app.ID, msgID, hookd.AttemptFilter{}, hookd.Page{Limit: 250, Ascending: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

// delivery returns the delivery of a message to an endpoint.
func (e *env) delivery(msgID, endpointID string) *hookd.Delivery {
	e.t.Helper()
	ds, err := e.store.MessageDeliveries(context.Background(), e.app.ID, msgID, hookd.Page{Limit: 250})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range ds {
		if d.EndpointID == endpointID {
			return d
		}
	}
	e.t.Fatalf("no delivery of %s to %s", msgID, endpointID)
	return nil
}

// waitAttempts waits until the message has n attempts and returns them.
func (e *env) waitAttempts(msgID string, n int) []*hookd.Attempt {
	e.t.Helper()
	var as []*hookd.Attempt
	eventually(e.t, func() bool {
		as = e.attempts(msgID)
		return len(as) >= n
	}, "%d attempts of %s (have %d)", n, msgID, func() any { return len(as) })
	return as
}

// waitDelivery waits until a delivery reaches status and returns it.
func (e *env) waitDelivery(msgID, endpointID string, status hookd.Status) *hookd.Delivery {
	e.t.Helper()
	var d *hookd.Delivery
	eventually(e.t, func() bool {
		d = e.delivery(msgID, endpointID)
		return d.Status == status
	}, "delivery status %v (have %v)", status, func() any { return d.Status })
	return d
}

// advance moves the clock and tells the dispatcher.
func (e *env) advance(d time.Duration) {
	e.clock.Advance(d)
	e.d.Nudge()
}

// eventually polls cond for up to 30 seconds, long enough for a loaded machine. The last argument, if a func() any,
// is called for the failure message.
func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for i, a := range args {
				if f, ok := a.(func() any); ok {
					args[i] = f()
				}
			}
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// request is one request a receiver got.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is an httptest server that records requests and answers with respond.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// verifier returns a Standard Webhooks verifier for secrets on the test clock.
func verifier(t *testing.T, c *webhooktest.Clock, secrets ...string) *webhook.Verifier {
	t.Helper()
	p, err := webhook.LookupProfile("standard")
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier(p, secrets, webhook.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sigVerifier returns a Standard Webhooks verifier that checks signatures only, for
// requests signed at different times of the test clock.
func sigVerifier(t *testing.T, secrets ...string) *webhook.Verifier {
	t.Helper()
	p, err := webhook.LookupProfile("standard")
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier(p, secrets, webhook.WithoutTimestampCheck())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

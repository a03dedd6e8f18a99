package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// circuit reads an endpoint's circuit from the store.
func (e *env) circuit(endpointID string) *hookd.Circuit {
	e.t.Helper()
	c, err := e.store.Circuit(context.Background(), e.app.ID, endpointID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// waitCircuit waits until the endpoint's circuit has n transitions and returns it.
func (e *env) waitCircuit(endpointID string, n int) *hookd.Circuit {
	e.t.Helper()
	var c *hookd.Circuit
	eventually(e.t, func() bool {
		c = e.circuit(endpointID)
		return len(c.Transitions) >= n
	}, "%d circuit transitions (have %v)", n, func() any { return c.Transitions })
	return c
}

// unattempted counts the deliveries to the endpoint that wait in the store, pending
// with no attempt, due after the test clock's now: put back, not attempted.
func (e *env) unattempted(msgs []*hookd.Message, endpointID string) int {
	n := 0
	now := e.clock.Now()
	for _, m := range msgs {
		dl := e.delivery(m.ID, endpointID)
		if dl.Status == hookd.StatusPending && dl.Attempts == 0 && dl.NextAttempt.After(now) {
			n++
		}
	}
	return n
}

// states returns, for a failure message, each message's delivery to the endpoint as
// its status, attempts and due time from the test clock's now.
func (e *env) states(msgs []*hookd.Message, endpointID string) func() any {
	return func() any {
		var out []string
		for _, m := range msgs {
			dl := e.delivery(m.ID, endpointID)
			out = append(out, fmt.Sprintf("%s %d %v", dl.Status, dl.Attempts, dl.NextAttempt.Sub(e.clock.Now())))
		}
		return out
	}
}

// threeFailuresOpen opens a circuit after three failures in a row, for 10 s.
func threeFailuresOpen(c *delivery.Config) {
	c.CircuitFailures = 3
	c.CircuitBackoff = 10 * time.Second
}

// failingEndpoint adds an endpoint that takes one request at a time, retries after
// an hour and answers 500 until up is set.
func (e *env) failingEndpoint() (up *atomic.Bool, rc *receiver, ep *hookd.Endpoint) {
	up = new(atomic.Bool)
	rc = newReceiver(e.t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ep = e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = "1h,1h"; ep.MaxConcurrency = 1 })
	return up, rc, ep
}

// TestCircuitBreaker opens an endpoint's circuit after three failures in a row and
// checks that the other deliveries then wait without an attempt, that one probe goes
// out after the backoff, that a failed probe doubles the backoff, and that a probe
// that succeeds closes the circuit and lets every delivery through.
func TestCircuitBreaker(t *testing.T) {
	ops, opt := withOps(t)
	e := newEnv(t, opt, threeFailuresOpen)
	// One request at a time, so the counts are exact. (Eight messages: as many as a
	// lane not yet answered holds; more would be put back for a while the test
	// clock never reaches.)
	up, rc, ep := e.failingEndpoint()
	t0 := e.clock.Now()
	var msgs []*hookd.Message
	for range 8 {
		msgs = append(msgs, e.send("a", nil, `{}`))
	}
	c := e.waitCircuit(ep.ID, 1)
	if c.State != hookd.CircuitOpen || !c.NextProbe.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("circuit after 3 failures = %s, next probe %v; want open, probe at t0+10s", c.State, c.NextProbe)
	}
	eventually(t, func() bool { return e.unattempted(msgs, ep.ID) == 5 }, "5 deliveries waiting for the probe")
	if n := len(rc.requests()); n != 3 {
		t.Fatalf("%d requests before the circuit opened, want 3", n)
	}
	ev := waitEvent(t, e, ops, "endpoint.circuit.opened")
	if ev.Data["endpointId"] != ep.ID || ev.Data["state"] != "open" {
		t.Errorf("endpoint.circuit.opened data %v", ev.Data)
	}

	// The probe fails: one request, and the circuit opens again for twice as long.
	e.advance(10 * time.Second)
	c = e.waitCircuit(ep.ID, 3) // open, half-open, open
	if c.State != hookd.CircuitOpen || c.Backoff != 20*time.Second {
		t.Fatalf("circuit after a failed probe = %s, backoff %v; want open, 20s", c.State, c.Backoff)
	}
	eventually(t, func() bool { return len(rc.requests()) == 4 }, "the probe")
	eventually(t, func() bool { return e.unattempted(msgs, ep.ID) == 4 }, "4 deliveries waiting for the next probe")
	if n := len(rc.requests()); n != 4 {
		t.Fatalf("%d requests after one probe, want 4", n)
	}

	// The endpoint recovers: the next probe closes the circuit, and the rest follow.
	up.Store(true)
	e.advance(20 * time.Second)
	c = e.waitCircuit(ep.ID, 5)
	if c.State != hookd.CircuitClosed || c.Failures != 0 {
		t.Fatalf("circuit after a good probe = %s with %d failures, want closed with 0", c.State, c.Failures)
	}
	waitEvent(t, e, ops, "endpoint.circuit.closed")
	// Up to the retries of the three that failed before it opened; some of those that
	// waited may have been put back for longer than the probe's backoff.
	e.advance(time.Hour)
	for _, m := range msgs {
		e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	}
	// Waiting cost no attempts: the failed attempts are the three that opened the
	// circuit and the failed probe. (Moving the clock an hour may have a delivery in
	// flight sent twice, its lease run out: the second attempt only adds to the log.)
	failed := 0
	for _, m := range msgs {
		for _, a := range e.attempts(m.ID) {
			if a.Status == hookd.StatusFail {
				failed++
			}
		}
	}
	if failed != 4 {
		t.Errorf("%d failed attempts, want 4 (3 before the circuit opened, 1 failed probe)", failed)
	}
}

// TestRetryAfterPausesEndpoint answers the first request with 429 and Retry-After:
// the endpoint's other deliveries wait out the pause unattempted, and go after it.
func TestRetryAfterPausesEndpoint(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.MaxConcurrency = 1 })
	t0 := e.clock.Now()
	var msgs []*hookd.Message
	for range 5 {
		msgs = append(msgs, e.send("a", nil, `{}`))
	}
	eventually(t, func() bool { return e.unattempted(msgs, ep.ID) == 4 }, "the 4 deliveries not sent waiting out the pause (%v)", func() any {
		var out []string
		for _, m := range msgs {
			dl := e.delivery(m.ID, ep.ID)
			out = append(out, fmt.Sprintf("%s %d %v", dl.Status, dl.Attempts, dl.NextAttempt.Sub(t0)))
		}
		return out
	})
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests during the pause, want 1", n)
	}
	if c := e.circuit(ep.ID); !c.PausedUntil.Equal(t0.Add(30*time.Second)) || c.State != hookd.CircuitClosed {
		t.Errorf("circuit = %s paused until %v, want closed, paused until t0+30s", c.State, c.PausedUntil)
	}
	e.advance(30 * time.Second)
	// After the 429 the lane sends more slowly (see TestAdaptiveLimits), and puts back
	// what it cannot hold for seconds of the test clock: move it on as it goes.
	eventually(t, func() bool {
		e.advance(100 * time.Millisecond)
		return countSuccess(t, e, ep.ID) == len(msgs)
	}, "all deliveries after the pause (%v, %d requests)", e.states(msgs, ep.ID), func() any { return len(rc.requests()) })
}

// TestMaxConcurrency holds every request of an endpoint whose maxConcurrency is 2
// while the server allows 32: no more than 2 are ever in flight.
func TestMaxConcurrency(t *testing.T) {
	e := newEnv(t)
	var in, most atomic.Int64
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := in.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		in.Add(-1)
	})
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.MaxConcurrency = 2 })
	const n = 8
	var msgs []*hookd.Message
	for range n {
		msgs = append(msgs, e.send("a", nil, `{}`))
	}
	// A delivery claimed while the lane is full is put back for a moment of the test
	// clock (a loaded machine does that): move the clock on as it goes.
	eventually(t, func() bool {
		e.advance(50 * time.Millisecond)
		return countSuccess(t, e, ep.ID) == n
	}, "all deliveries (%v)", e.states(msgs, ep.ID))
	if m := most.Load(); m > 2 || m < 1 {
		t.Fatalf("%d requests in flight at once, want at most 2", m)
	}
}

// TestAppRateLimit gives the application a rate limit of 10/s and two endpoints: the
// limit holds for both together.
func TestAppRateLimit(t *testing.T) {
	e := newEnv(t)
	e.app.RateLimit = 10
	if err := e.store.UpdateApp(context.Background(), e.app); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	var mu = make(chan struct{}, 1)
	note := func(_ int, _ http.ResponseWriter, _ *http.Request) {
		mu <- struct{}{}
		at = append(at, time.Now())
		<-mu
	}
	a, b := newReceiver(t, note), newReceiver(t, note)
	e.endpoint(a.URL)
	e.endpoint(b.URL)
	const n = 5
	for range n {
		e.send("a", nil, `{}`)
	}
	eventually(t, func() bool {
		mu <- struct{}{}
		defer func() { <-mu }()
		return len(at) == 2*n
	}, "all requests")
	slices.SortFunc(at, time.Time.Compare)
	first, last := at[0], at[len(at)-1]
	if want := (2*n - 1) * 100 * time.Millisecond * 9 / 10; last.Sub(first) < want {
		t.Fatalf("%d requests to the application's endpoints within %v, want at least %v at 10/s", 2*n, last.Sub(first), want)
	}
}

// TestRetryOnTime retries after one second with a poll of an hour: the retry is
// made when it falls due, not at the next poll.
func TestRetryOnTime(t *testing.T) {
	s, err := hookd.ParseRetrySchedule("1s")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *delivery.Config) {
		c.Now = time.Now
		c.IDs = hookd.IDGen{Now: time.Now}
		c.Poll = time.Hour
		c.RetrySchedule = s
	})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ep := e.endpoint(rc.URL)
	m := e.send("a", nil, `{}`)
	e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Errorf("retry %v after the first attempt, want about 1s", gap)
	}
}

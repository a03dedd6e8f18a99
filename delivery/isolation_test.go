package delivery_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// TestSlowEndpointDoesNotDelayOthers blocks one endpoint completely and checks that
// another endpoint receives everything meanwhile, and that the blocked one never
// sees more than EndpointConcurrency requests at once.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, func(c *delivery.Config) {
		c.Workers = 8
		c.EndpointConcurrency = 2
		c.EndpointQueue = 3
		c.QueueSize = 16
		c.BatchSize = 10
		c.RequestTimeout = time.Minute // the blocked requests outlast the test
	})
	release := make(chan struct{})
	var inSlow, maxSlow atomic.Int64
	slow := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := inSlow.Add(1)
		for {
			m := maxSlow.Load()
			if n <= m || maxSlow.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		inSlow.Add(-1)
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	fast := newReceiver(t, status(http.StatusOK))
	slowEp := e.endpoint(slow.URL)
	e.endpoint(fast.URL, func(ep *hookd.Endpoint) { ep.FilterTypes = []string{"fast"} })

	// The slow endpoint takes every message, the fast one a third of them.
	const n = 60
	var fastMsgs []*hookd.Message
	for i := range n {
		typ := "slow"
		if i%3 == 0 {
			typ = "fast"
		}
		m := e.send(typ, nil, `{}`)
		if typ == "fast" {
			fastMsgs = append(fastMsgs, m)
		}
	}
	eventually(t, func() bool { return len(fast.requests()) == len(fastMsgs) }, "fast endpoint to get %d messages while the slow one is blocked (got %d)", len(fastMsgs), func() any { return len(fast.requests()) })
	if m := maxSlow.Load(); m > 2 {
		t.Fatalf("slow endpoint saw %d concurrent requests, cap is 2", m)
	}
	if got := len(slow.requests()); got != 2 {
		t.Fatalf("slow endpoint got %d requests while blocked, want 2 (its concurrency cap)", got)
	}

	// Unblocked, the slow endpoint gets everything too; the deliveries given back
	// while its lane was full come back after SaturatedDelay (the test clock moves
	// past it).
	once.Do(func() { close(release) })
	eventually(t, func() bool {
		e.advance(2 * time.Second)
		return countSuccess(t, e, slowEp.ID) == n
	}, "slow endpoint to catch up")
}

func countSuccess(t *testing.T, e *env, endpointID string) int {
	t.Helper()
	st, err := e.store.EndpointStats(t.Context(), e.app.ID, endpointID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Success)
}

// TestRateLimit checks that requests to a rate-limited endpoint are spaced at least
// 1/rate apart (a lower bound, which no scheduling delay can break).
func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RateLimit = 20 })
	const n = 8
	for range n {
		e.send("a", nil, `{}`)
	}
	eventually(t, func() bool { return countSuccess(t, e, ep.ID) == n }, "all deliveries")
	reqs := rc.requests()
	// At 20/s the n requests span (n-1)×50 ms. One interval of slack: a loaded machine
	// can hold up the first request on its way after the limiter let it go, which
	// shortens the span seen at the receiver. Without the limit they span a few ms.
	if first, last := reqs[0].at, reqs[len(reqs)-1].at; last.Sub(first) < (n-2)*50*time.Millisecond {
		t.Fatalf("%d requests within %v, want at least %v at 20/s", n, last.Sub(first), (n-2)*50*time.Millisecond)
	}
}

// TestIdleLaneWorkers sends to one endpoint with gaps shorter and longer than a lane
// worker waits for more work, so that deliveries go both to a waiting worker (which
// must be woken: with a concurrency of one, no other worker would start) and to a
// new one. The dispatcher is then stopped while a worker waits.
func TestIdleLaneWorkers(t *testing.T) {
	e := newEnv(t, func(c *delivery.Config) {
		c.EndpointConcurrency = 1
	})
	rcv := newReceiver(t, status(http.StatusOK))
	e.endpoint(rcv.URL)
	for i, gap := range []time.Duration{0, 10 * time.Millisecond, 400 * time.Millisecond, 0} {
		time.Sleep(gap)
		m := e.send("a.b", nil, `{}`)
		if got := e.waitAttempts(m.ID, 1); got[0].Status != hookd.StatusSuccess {
			t.Fatalf("message %d: attempt %+v, want a success", i, got[0])
		}
	}
	if n := len(rcv.requests()); n != 4 {
		t.Fatalf("receiver got %d requests, want 4", n)
	}
}

// TestRateLimitSharedByNodes runs two dispatchers on one store, as two nodes: each
// learns from the heartbeats that there are two, and keeps to half of the endpoint's
// rate limit, so that together they stay within it.
func TestRateLimitSharedByNodes(t *testing.T) {
	e := twoNodes(t, nil)

	rc := newReceiver(t, status(http.StatusOK))
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RateLimit = 20 })
	const n = 8
	for range n {
		e.send("a", nil, `{}`)
	}
	eventually(t, func() bool { return countSuccess(t, e, ep.ID) == n }, "all deliveries")
	byNode := map[string][]time.Time{}
	for _, r := range rc.requests() {
		ua := r.header.Get("User-Agent")
		byNode[ua] = append(byNode[ua], r.at)
	}
	// Each node sends at most 10/s: its requests are at least 100 ms apart.
	for ua, at := range byNode {
		if k := len(at); k > 1 && at[k-1].Sub(at[0]) < time.Duration(k-1)*100*time.Millisecond*9/10 {
			t.Errorf("%s sent %d requests within %v, want at least %v at 10/s", ua, k, at[k-1].Sub(at[0]), time.Duration(k-1)*100*time.Millisecond)
		}
	}
	if len(byNode["node-a"])+len(byNode["node-b"]) != n {
		t.Errorf("requests by node: %d and %d, want %d in all", len(byNode["node-a"]), len(byNode["node-b"]), n)
	}
}

// TestConcurrencySharedByNodes runs two dispatchers on one store with an endpoint
// concurrency of 2 against an endpoint that does not answer: together they never
// have more than 2 requests in flight to it, one each (without the sharing, each
// would send 2).
func TestConcurrencySharedByNodes(t *testing.T) {
	e := twoNodes(t, func(c *delivery.Config) { c.EndpointConcurrency = 2; c.RequestTimeout = time.Minute })
	release := make(chan struct{})
	var once sync.Once
	var in, most atomic.Int64
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := in.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		in.Add(-1)
	})
	// Registered after the receiver, so it runs before the receiver's close waits
	// for the held requests.
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	ep := e.endpoint(rc.URL)
	const n = 8
	for range n {
		e.send("a", nil, `{}`)
	}
	eventually(t, func() bool { return in.Load() > 0 }, "requests in flight")
	time.Sleep(300 * time.Millisecond) // room for up to 4, were the cap not shared
	if m := most.Load(); m > 2 {
		t.Fatalf("%d requests in flight at once, want at most 2", m)
	}
	once.Do(func() { close(release) })
	// Deliveries given back while the endpoint was slow come back as the clock moves.
	eventually(t, func() bool {
		e.advance(2 * time.Second)
		return countSuccess(t, e, ep.ID) == n
	}, "all deliveries")
}

// twoNodes starts a dispatcher (the env's, with edit applied) and a second one on
// the same store, as two nodes, and waits until both count two nodes. The second
// sends with the user agent node-b, the first with node-a.
func twoNodes(t *testing.T, edit func(*delivery.Config)) *env {
	t.Helper()
	cfg := func(c *delivery.Config) {
		c.Heartbeat = 20 * time.Millisecond
		if edit != nil {
			edit(c)
		}
	}
	e := newEnv(t, cfg, func(c *delivery.Config) { c.UserAgent = "node-a" })
	bc := delivery.Config{Store: e.store, Now: e.clock.Now, IDs: e.ids, AllowPrivate: true,
		Poll: 20 * time.Millisecond, UserAgent: "node-b"}
	cfg(&bc)
	b, err := delivery.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, func() bool { return e.d.Nodes() == 2 && b.Nodes() == 2 }, "both dispatchers counting two nodes")
	return e
}

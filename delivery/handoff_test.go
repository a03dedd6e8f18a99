package delivery_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// take hands msg's deliveries to the dispatcher once it runs, as the API does.
func (e *env) take(msg *hookd.Message, ds []*hookd.Delivery) []*hookd.Delivery {
	e.t.Helper()
	var taken []*hookd.Delivery
	eventually(e.t, func() bool {
		taken = e.d.Take(msg, ds)
		return len(taken) > 0
	}, "the dispatcher takes deliveries")
	return taken
}

func TestHandoffDeliversWithoutClaim(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))
	ep := e.endpoint(rc.URL)
	msg, ds := e.compose("invoice.paid", nil, `{"n":1}`)
	taken := e.take(msg, ds)
	if len(taken) != 1 || taken[0].Status != hookd.StatusSending || taken[0].Lease != 0 ||
		!taken[0].NextAttempt.After(e.clock.Now()) {
		t.Fatalf("taken = %+v, want one delivery leased until after now with lease 0", taken)
	}
	if _, err := e.store.CreateMessage(context.Background(), msg, ds); err != nil {
		t.Fatal(err)
	}
	if d := e.delivery(msg.ID, ep.ID); d.Status != hookd.StatusSending {
		t.Fatalf("stored status %v, want sending", d.Status)
	}
	e.d.Deliver(taken)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	if as := e.attempts(msg.ID); len(as) != 1 || as[0].Status != hookd.StatusSuccess {
		t.Fatalf("attempts = %+v, want one success", as)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
}

// A node that takes deliveries and dies before sending them loses nothing: the
// lease expires and the deliveries are claimed like any other.
func TestHandoffLeaseExpiresAfterCrash(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))
	ep := e.endpoint(rc.URL)
	msg, ds := e.compose("invoice.paid", nil, `{"n":2}`)
	taken := e.take(msg, ds)
	if _, err := e.store.CreateMessage(context.Background(), msg, ds); err != nil {
		t.Fatal(err)
	}
	// The node "dies": it never delivers what it took (Abandon only frees its memory).
	e.d.Abandon(taken)
	e.d.Nudge()
	if d := e.delivery(msg.ID, ep.ID); d.Status != hookd.StatusSending {
		t.Fatalf("status %v before the lease expired, want sending", d.Status)
	}
	e.advance(taken[0].NextAttempt.Sub(e.clock.Now()) + time.Second)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
}

// Take never holds more than Workers+QueueSize deliveries; what it leaves out stays
// pending and is claimed as usual.
func TestHandoffBounded(t *testing.T) {
	e := newEnv(t, func(c *delivery.Config) { c.Workers, c.QueueSize = 1, 1 })
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	for range 3 {
		e.endpoint(rc.URL)
	}
	msg, ds := e.compose("invoice.paid", nil, `{"n":3}`)
	taken := e.take(msg, ds)
	if len(taken) != 2 {
		t.Fatalf("took %d of 3 deliveries, want 2 (Workers+QueueSize)", len(taken))
	}
	pending := 0
	for _, d := range ds {
		if d.Status == hookd.StatusPending {
			pending++
		}
	}
	if pending != 1 {
		t.Fatalf("%d deliveries left pending, want 1", pending)
	}
	if more := e.d.Take(msg, []*hookd.Delivery{{ID: "dlv_x", EndpointID: ds[0].EndpointID, Status: hookd.StatusPending}}); len(more) != 0 {
		t.Fatalf("took %d more while full, want 0", len(more))
	}
	e.d.Abandon(taken)
}

// A new message's delivery to an endpoint whose circuit this node knows open is not
// taken at accept: it is stored due at the circuit's next probe, and goes then.
func TestHandoffLeavesOpenCircuitWaiting(t *testing.T) {
	e := newEnv(t, threeFailuresOpen)
	up, rc, ep := e.failingEndpoint()
	var sent []*hookd.Message
	for range 3 {
		sent = append(sent, e.send("a", nil, `{}`))
	}
	c := e.waitCircuit(ep.ID, 1)
	if c.State != hookd.CircuitOpen {
		t.Fatalf("circuit after 3 failures = %s, want open", c.State)
	}
	eventually(t, func() bool { return len(rc.requests()) == 3 }, "3 requests")
	// The dispatcher takes the circuit it stored as its own view before it records the
	// attempt: once the three are recorded, its hand-off knows the circuit is open.
	eventually(t, func() bool {
		for _, m := range sent {
			if len(e.attempts(m.ID)) == 0 {
				return false
			}
		}
		return true
	}, "the 3 attempts recorded")

	msg, ds := e.compose("a", nil, `{"n":1}`)
	if taken := e.d.Take(msg, ds); len(taken) != 0 {
		t.Fatalf("took %d deliveries to an open circuit, want none", len(taken))
	}
	if len(ds) != 1 || ds[0].NextAttempt.Before(c.NextProbe) || ds[0].NextAttempt.After(c.NextProbe.Add(200*time.Millisecond)) {
		t.Fatalf("delivery due at %v, want at the next probe %v", ds[0].NextAttempt, c.NextProbe)
	}
	if _, err := e.store.CreateMessage(context.Background(), msg, ds); err != nil {
		t.Fatal(err)
	}
	if dl := e.delivery(msg.ID, ep.ID); dl.Status != hookd.StatusPending || dl.Attempts != 0 || !dl.NextAttempt.After(e.clock.Now()) {
		t.Fatalf("stored delivery %+v, want pending, unattempted, due later", dl)
	}
	if n := len(rc.requests()); n != 3 {
		t.Fatalf("%d requests, want the 3 that opened the circuit", n)
	}

	// The endpoint recovers: the delivery goes at the probe, which closes the circuit.
	up.Store(true)
	e.advance(11 * time.Second)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	if as := e.attempts(msg.ID); len(as) != 1 {
		t.Fatalf("%d attempts of the waiting delivery, want 1", len(as))
	}
}

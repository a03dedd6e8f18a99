package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// fifoMessage creates a message of appID with ordering key key and an ordered delivery
// to each endpoint, as FanOut makes them for FIFO endpoints.
func (f *fixture) fifoMessage(appID, key string, eps ...*hookd.Endpoint) (*hookd.Message, []*hookd.Delivery) {
	f.t.Helper()
	m, ds := f.newMessage(appID, eps, func(m *hookd.Message) { m.OrderingKey = key })
	for _, d := range ds {
		d.Ordered, d.OrderingKey = true, key
	}
	if _, err := f.s.CreateMessage(f.ctx, m, ds); err != nil {
		f.t.Fatalf("CreateMessage: %v", err)
	}
	return m, ds
}

// fifoEndpoint creates a FIFO endpoint of appID.
func (f *fixture) fifoEndpoint(appID, onExhausted string) *hookd.Endpoint {
	return f.endpoint(appID, func(e *hookd.Endpoint) { e.FIFO, e.FIFOOnExhausted = true, onExhausted })
}

// claimIDs claims at now and returns the claimed deliveries by message ID.
func (f *fixture) claimIDs(now time.Time) map[string]*hookd.Delivery {
	f.t.Helper()
	out := map[string]*hookd.Delivery{}
	for _, d := range f.claim(now, 100) {
		out[d.MsgID] = d
	}
	return out
}

// wantClaimed fails unless the claimed messages are exactly want.
func wantClaimed(t *testing.T, got map[string]*hookd.Delivery, want ...*hookd.Message) {
	t.Helper()
	ok := len(got) == len(want)
	for _, m := range want {
		ok = ok && got[m.ID] != nil
	}
	if !ok {
		var g, w []string
		for id := range got {
			g = append(g, id)
		}
		for _, m := range want {
			w = append(w, m.ID)
		}
		t.Fatalf("claimed messages %v, want %v", g, w)
	}
}

// final returns a result that ends the claimed delivery d for good.
func (f *fixture) final(d *hookd.Delivery, hold bool) hookd.AttemptResult {
	r := f.result(d, hookd.StatusFail, 500)
	r.Status, r.NextAttempt, r.Hold = hookd.StatusFail, f.now, hold
	return r
}

func (f *fixture) record(rs ...hookd.AttemptResult) {
	f.t.Helper()
	if err := f.s.RecordAttempts(f.ctx, rs); err != nil {
		f.t.Fatalf("RecordAttempts: %v", err)
	}
}

// claimHeads claims the heads of keys at now and returns them by message ID.
func (f *fixture) claimHeads(now time.Time, keys ...hookd.FIFOKey) map[string]*hookd.Delivery {
	f.t.Helper()
	ds, err := f.s.ClaimFIFOHeads(f.ctx, now, time.Minute, keys)
	if err != nil {
		f.t.Fatalf("ClaimFIFOHeads: %v", err)
	}
	out := map[string]*hookd.Delivery{}
	for _, d := range ds {
		if out[d.MsgID] != nil {
			f.t.Fatalf("ClaimFIFOHeads handed out %s twice", d.MsgID)
		}
		if d.Message == nil || d.Message.ID != d.MsgID || d.Status != hookd.StatusSending || d.Lease == 0 {
			f.t.Fatalf("ClaimFIFOHeads: delivery %s without its message or lease: %+v", d.MsgID, d)
		}
		out[d.MsgID] = d
	}
	return out
}

var fifoTests = []test{
	{"ClaimFIFOHeadsTakesOnlyDueHeadsOfItsKeys", func(t *testing.T, f *fixture) {
		// ClaimFIFOHeads follows the claim rule for the keys it is given, one head a
		// key: not a key whose head is out, held or waiting for its retry, not a key
		// it was not given, never an unordered delivery.
		a := f.app()
		e := f.fifoEndpoint(a.ID, hookd.FIFOStop)
		e2 := f.fifoEndpoint(a.ID, "")
		plain := f.endpoint(a.ID)
		key := func(ep *hookd.Endpoint, k string) hookd.FIFOKey {
			return hookd.FIFOKey{EndpointID: ep.ID, OrderingKey: k}
		}
		done1, _ := f.fifoMessage(a.ID, "done", e)
		done2, _ := f.fifoMessage(a.ID, "done", e)
		f.fifoMessage(a.ID, "done", e)
		out1, _ := f.fifoMessage(a.ID, "out", e)
		f.fifoMessage(a.ID, "out", e)
		held1, _ := f.fifoMessage(a.ID, "held", e)
		f.fifoMessage(a.ID, "held", e)
		retry1, _ := f.fifoMessage(a.ID, "retry", e)
		f.fifoMessage(a.ID, "retry", e)
		other1, _ := f.fifoMessage(a.ID, "done", e2) // same key name, other endpoint
		f.message(a.ID, []*hookd.Endpoint{plain})
		got := f.claimIDs(f.tick())
		if got[done1.ID] == nil || got[out1.ID] == nil || got[held1.ID] == nil || got[retry1.ID] == nil || got[other1.ID] == nil {
			t.Fatalf("first claim %v lacks a head", got)
		}
		f.tick()
		f.record(f.result(got[done1.ID], hookd.StatusSuccess, 200), f.final(got[held1.ID], true),
			f.result(got[retry1.ID], hookd.StatusFail, 500))
		now := f.tick()
		keys := []hookd.FIFOKey{key(e, "done"), key(e, "done"), key(e, "out"), key(e, "held"), key(e, "retry"),
			key(e, "missing"), key(plain, "")}
		heads := f.claimHeads(now, keys...)
		wantClaimed(t, heads, done2)
		wantClaimed(t, f.claimHeads(now, keys...)) // done2 is out now
		wantClaimed(t, f.claimIDs(now))            // and ClaimDeliveries agrees
		if len(f.claimHeads(now)) != 0 {
			t.Error("ClaimFIFOHeads without keys claimed something")
		}
	}},
	{"ClaimFIFOHeadsTakesAnExpiredHeadAgain", func(t *testing.T, f *fixture) {
		// A head whose lease ran out is its key's head still: ClaimFIFOHeads takes it
		// again with a new lease, and only once.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		m1, _ := f.fifoMessage(a.ID, "k", e)
		f.fifoMessage(a.ID, "k", e)
		now := f.tick()
		k := hookd.FIFOKey{EndpointID: e.ID, OrderingKey: "k"}
		first := f.claimHeads(now, k)
		wantClaimed(t, first, m1)
		wantClaimed(t, f.claimHeads(now.Add(time.Minute-time.Millisecond), k))
		again := f.claimHeads(now.Add(time.Minute), k)
		wantClaimed(t, again, m1)
		if again[m1.ID].Lease == first[m1.ID].Lease {
			t.Error("the second claim kept the first lease")
		}
		wantClaimed(t, f.claimIDs(now.Add(time.Minute)))
	}},
	{"StoredWithTheirKeys", func(t *testing.T, f *fixture) {
		// An endpoint's FIFO settings, a message's OrderingKey and a delivery's Ordered,
		// OrderingKey and Held read back as written.
		a := f.app()
		e := f.fifoEndpoint(a.ID, hookd.FIFOStop)
		plain := f.endpoint(a.ID)
		got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if !got.FIFO || got.FIFOOnExhausted != hookd.FIFOStop {
			t.Errorf("endpoint FIFO %v %q, want true %q", got.FIFO, got.FIFOOnExhausted, hookd.FIFOStop)
		}
		got.FIFO, got.FIFOOnExhausted = false, hookd.FIFOSkip
		must(t, f.s.UpdateEndpoint(f.ctx, got))
		if got, _ = f.s.Endpoint(f.ctx, a.ID, e.ID); got.FIFO || got.FIFOOnExhausted != hookd.FIFOSkip {
			t.Errorf("after update FIFO %v %q, want false %q", got.FIFO, got.FIFOOnExhausted, hookd.FIFOSkip)
		}
		m, ds := f.newMessage(a.ID, []*hookd.Endpoint{e, plain}, func(m *hookd.Message) { m.OrderingKey = "customer-7" })
		ds[0].Ordered, ds[0].OrderingKey = true, "customer-7"
		_, err = f.s.CreateMessage(f.ctx, m, ds)
		must(t, err)
		stored, err := f.s.Message(f.ctx, a.ID, m.ID)
		must(t, err)
		if stored.OrderingKey != "customer-7" {
			t.Errorf("message OrderingKey %q, want customer-7", stored.OrderingKey)
		}
		if d := f.delivery(a.ID, m.ID, e.ID); !d.Ordered || d.OrderingKey != "customer-7" || d.Held {
			t.Errorf("ordered delivery Ordered %v key %q Held %v", d.Ordered, d.OrderingKey, d.Held)
		}
		if d := f.delivery(a.ID, m.ID, plain.ID); d.Ordered || d.OrderingKey != "" {
			t.Errorf("unordered delivery Ordered %v key %q", d.Ordered, d.OrderingKey)
		}
		claimed := f.claimIDs(f.now)
		if c := claimed[m.ID]; c == nil || c.Message == nil || c.Message.OrderingKey != "customer-7" {
			t.Errorf("claimed delivery's message lost its OrderingKey: %+v", c)
		}
	}},
	{"ClaimHandsOutOnlyEachKeysHead", func(t *testing.T, f *fixture) {
		// At most one delivery of an (endpoint, key) is out at a time, the earliest;
		// other keys, other endpoints and unordered deliveries do not wait for it.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		e2 := f.fifoEndpoint(a.ID, "")
		plain := f.endpoint(a.ID)
		a1, _ := f.fifoMessage(a.ID, "a", e)
		a2, _ := f.fifoMessage(a.ID, "a", e)
		b1, _ := f.fifoMessage(a.ID, "b", e)
		a3, _ := f.fifoMessage(a.ID, "a", e)
		n1, _ := f.fifoMessage(a.ID, "", e)
		n2, _ := f.fifoMessage(a.ID, "", e)
		o1, _ := f.fifoMessage(a.ID, "a", e2)
		p1, _ := f.message(a.ID, []*hookd.Endpoint{plain})
		p2, _ := f.message(a.ID, []*hookd.Endpoint{plain})
		now := f.tick()
		first := f.claimIDs(now)
		wantClaimed(t, first, a1, b1, n1, o1, p1, p2)
		wantClaimed(t, f.claimIDs(now)) // heads in flight: nothing more

		f.tick()
		f.record(f.result(first[a1.ID], hookd.StatusSuccess, 200), f.result(first[n1.ID], hookd.StatusSuccess, 200))
		second := f.claimIDs(f.tick())
		wantClaimed(t, second, a2, n2)
		f.record(f.result(second[a2.ID], hookd.StatusSuccess, 200))
		wantClaimed(t, f.claimIDs(f.tick()), a3)
	}},
	{"OrderIsCreationOrderNotID", func(t *testing.T, f *fixture) {
		// IDs made in one millisecond do not sort by creation: the store orders a
		// key's deliveries by the order it created them.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		later, earlier := f.id(hookd.PrefixMessage), f.id(hookd.PrefixMessage)
		var ms []*hookd.Message
		for _, id := range []string{earlier, later} { // created in this order; IDs sort the other way
			m, ds := f.newMessage(a.ID, []*hookd.Endpoint{e}, func(m *hookd.Message) { m.ID = id })
			ds[0].MsgID, ds[0].Ordered = id, true
			_, err := f.s.CreateMessage(f.ctx, m, ds)
			must(t, err)
			ms = append(ms, m)
		}
		got := f.claimIDs(f.tick())
		wantClaimed(t, got, ms[0])
		f.record(f.result(got[ms[0].ID], hookd.StatusSuccess, 200))
		wantClaimed(t, f.claimIDs(f.tick()), ms[1])
	}},
	{"RetryPendingHoldsUpItsKey", func(t *testing.T, f *fixture) {
		// A head waiting for its retry is still the head: the next waits with it, and
		// goes only once the head is done.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		m1, _ := f.fifoMessage(a.ID, "k", e)
		m2, _ := f.fifoMessage(a.ID, "k", e)
		got := f.claimIDs(f.tick())
		wantClaimed(t, got, m1)
		f.tick()
		retry := f.result(got[m1.ID], hookd.StatusFail, 500) // pending, due 5 s later
		f.record(retry)
		wantClaimed(t, f.claimIDs(f.tick())) // m2 waits behind the retry
		due, ok, err := f.s.NextDue(f.ctx)
		must(t, err)
		if !ok || !due.Equal(retry.NextAttempt) {
			t.Errorf("NextDue = %v %v, want the retry's %v (m2 cannot be claimed before it)", due, ok, retry.NextAttempt)
		}
		again := f.claimIDs(retry.NextAttempt)
		wantClaimed(t, again, m1)
		f.record(f.result(again[m1.ID], hookd.StatusSuccess, 200))
		wantClaimed(t, f.claimIDs(retry.NextAttempt.Add(time.Millisecond)), m2)
	}},
	{"ExpiredLeaseGoesToTheNextClaimOfTheHead", func(t *testing.T, f *fixture) {
		// A head whose lease ran out (its node died) is claimed again; the one behind
		// it still waits.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		m1, _ := f.fifoMessage(a.ID, "k", e)
		f.fifoMessage(a.ID, "k", e)
		now := f.tick()
		first := f.claimIDs(now)
		wantClaimed(t, first, m1)
		due, ok, err := f.s.NextDue(f.ctx)
		must(t, err)
		if !ok || !due.Equal(now.Add(time.Minute)) {
			t.Errorf("NextDue = %v %v, want the head's lease expiry %v", due, ok, now.Add(time.Minute))
		}
		again := f.claimIDs(now.Add(time.Minute))
		wantClaimed(t, again, m1)
		if again[m1.ID].Lease == first[m1.ID].Lease {
			t.Error("the second claim kept the first lease")
		}
		// The first claim's late result no longer counts; the head stays out.
		f.record(f.result(first[m1.ID], hookd.StatusSuccess, 200))
		wantClaimed(t, f.claimIDs(now.Add(time.Minute)))
	}},
	{"SkipGoesOnStopHaltsUntilReleased", func(t *testing.T, f *fixture) {
		// A head that fails for good without Hold lets the next go; with Hold it
		// halts the key, until ReleaseFIFO (of that key, or of all keys).
		a := f.app()
		e := f.fifoEndpoint(a.ID, hookd.FIFOStop)
		s1, _ := f.fifoMessage(a.ID, "skip", e)
		s2, _ := f.fifoMessage(a.ID, "skip", e)
		h1, _ := f.fifoMessage(a.ID, "stop", e)
		h2, _ := f.fifoMessage(a.ID, "stop", e)
		other, _ := f.fifoMessage(a.ID, "other", e)
		got := f.claimIDs(f.tick())
		wantClaimed(t, got, s1, h1, other)
		f.tick()
		f.record(f.final(got[s1.ID], false), f.final(got[h1.ID], true), f.result(got[other.ID], hookd.StatusSuccess, 200))
		if d := f.delivery(a.ID, h1.ID, e.ID); d.Status != hookd.StatusFail || !d.Held {
			t.Errorf("held head: status %v Held %v, want fail and held", d.Status, d.Held)
		}
		if d := f.delivery(a.ID, s1.ID, e.ID); d.Status != hookd.StatusFail || d.Held {
			t.Errorf("skipped head: status %v Held %v, want fail, not held", d.Status, d.Held)
		}
		wantClaimed(t, f.claimIDs(f.tick()), s2)
		wantClaimed(t, f.claimIDs(f.tick()))

		other2 := "nope"
		n, err := f.s.ReleaseFIFO(f.ctx, a.ID, e.ID, &other2)
		must(t, err)
		if n != 0 {
			t.Errorf("ReleaseFIFO of a key with nothing held = %d, want 0", n)
		}
		wantClaimed(t, f.claimIDs(f.tick()))
		key := "stop"
		if n, err = f.s.ReleaseFIFO(f.ctx, a.ID, e.ID, &key); err != nil || n != 1 {
			t.Fatalf("ReleaseFIFO = %d, %v; want 1", n, err)
		}
		if d := f.delivery(a.ID, h1.ID, e.ID); d.Status != hookd.StatusFail || d.Held {
			t.Errorf("released: status %v Held %v, want still failed, not held", d.Status, d.Held)
		}
		wantClaimed(t, f.claimIDs(f.tick()), h2)
		if n, err = f.s.ReleaseFIFO(f.ctx, a.ID, e.ID, nil); err != nil || n != 0 {
			t.Errorf("second ReleaseFIFO = %d, %v; want 0", n, err)
		}
	}},
	{"ResendAndRecoverClearHeld", func(t *testing.T, f *fixture) {
		// A resent or recovered held delivery is pending again, not held: it goes
		// first, and the key goes on after it.
		a := f.app()
		e := f.fifoEndpoint(a.ID, hookd.FIFOStop)
		for _, how := range []string{"resend", "recover"} {
			key := how
			m1, _ := f.fifoMessage(a.ID, key, e)
			m2, _ := f.fifoMessage(a.ID, key, e)
			got := f.claimIDs(f.tick())
			wantClaimed(t, got, m1)
			f.tick()
			f.record(f.final(got[m1.ID], true))
			now := f.tick()
			if how == "resend" {
				must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m1.ID, e.ID, now))
			} else {
				n, err := f.s.RecoverDeliveries(f.ctx, a.ID, e.ID, m1.Timestamp, m2.Timestamp, now)
				must(t, err)
				if n != 1 {
					t.Fatalf("%s: recovered %d, want 1", how, n)
				}
			}
			if d := f.delivery(a.ID, m1.ID, e.ID); d.Held || d.Status != hookd.StatusPending {
				t.Errorf("%s: status %v Held %v, want pending, not held", how, d.Status, d.Held)
			}
			got = f.claimIDs(f.tick())
			wantClaimed(t, got, m1)
			f.tick()
			f.record(f.result(got[m1.ID], hookd.StatusSuccess, 200))
			wantClaimed(t, f.claimIDs(f.tick()), m2)
		}
	}},
	{"ResendAndRecoverOfDoneDeliveriesJoinTheEnd", func(t *testing.T, f *fixture) {
		// A done ordered delivery (succeeded, or failed without holding its key)
		// that is resent or recovered takes a new place at the end of its key's
		// queue: it never goes while a later delivery of its key is out, and
		// recovered ones keep their order among themselves.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		m1, _ := f.fifoMessage(a.ID, "r", e)
		m2, _ := f.fifoMessage(a.ID, "r", e)
		m3, _ := f.fifoMessage(a.ID, "r", e)
		got := f.claimIDs(f.tick())
		wantClaimed(t, got, m1)
		f.tick()
		f.record(f.result(got[m1.ID], hookd.StatusSuccess, 200))
		got = f.claimIDs(f.tick())
		wantClaimed(t, got, m2) // m2 is out
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m1.ID, e.ID, f.tick()))
		wantClaimed(t, f.claimIDs(f.tick()))                                                      // not m1 while m2 is out
		wantClaimed(t, f.claimHeads(f.tick(), hookd.FIFOKey{EndpointID: e.ID, OrderingKey: "r"})) // nor through the key's head
		f.record(f.result(got[m2.ID], hookd.StatusSuccess, 200))
		got = f.claimIDs(f.tick())
		wantClaimed(t, got, m3) // m1 went to the end, behind m3
		f.record(f.result(got[m3.ID], hookd.StatusSuccess, 200))
		got = f.claimIDs(f.tick())
		wantClaimed(t, got, m1)
		f.record(f.result(got[m1.ID], hookd.StatusSuccess, 200))

		// Recover: two skipped failures come back behind the head that is out, in
		// their order.
		s1, _ := f.fifoMessage(a.ID, "s", e)
		s2, _ := f.fifoMessage(a.ID, "s", e)
		s3, _ := f.fifoMessage(a.ID, "s", e)
		for _, m := range []*hookd.Message{s1, s2} {
			got = f.claimIDs(f.tick())
			wantClaimed(t, got, m)
			f.record(f.final(got[m.ID], false))
		}
		got = f.claimIDs(f.tick())
		wantClaimed(t, got, s3)
		n, err := f.s.RecoverDeliveries(f.ctx, a.ID, e.ID, s1.Timestamp, time.Time{}, f.tick())
		must(t, err)
		if n != 2 {
			t.Fatalf("recovered %d, want 2", n)
		}
		wantClaimed(t, f.claimIDs(f.tick())) // s3 is out
		f.record(f.result(got[s3.ID], hookd.StatusSuccess, 200))
		for _, m := range []*hookd.Message{s1, s2} {
			got = f.claimIDs(f.tick())
			wantClaimed(t, got, m)
			f.record(f.result(got[m.ID], hookd.StatusSuccess, 200))
		}
		wantClaimed(t, f.claimIDs(f.tick()))
	}},
	{"StateCountsAndListsHaltedKeys", func(t *testing.T, f *fixture) {
		// FIFOState counts the endpoint's ordered deliveries pending, sending and
		// held and their keys, and lists the held ones by key with their latest
		// attempt; other endpoints' deliveries do not count.
		a := f.app()
		e := f.fifoEndpoint(a.ID, hookd.FIFOStop)
		other := f.fifoEndpoint(a.ID, hookd.FIFOStop)
		a1, _ := f.fifoMessage(a.ID, "a", e)
		f.fifoMessage(a.ID, "a", e)
		b1, _ := f.fifoMessage(a.ID, "b", e)
		f.fifoMessage(a.ID, "b", e)
		c1, _ := f.fifoMessage(a.ID, "c", e)
		x1, _ := f.fifoMessage(a.ID, "x", other)
		got := f.claimIDs(f.tick())
		wantClaimed(t, got, a1, b1, c1, x1)
		f.tick()
		heldA, heldC := f.final(got[a1.ID], true), f.final(got[c1.ID], true)
		f.record(heldA, heldC)
		st, err := f.s.FIFOState(f.ctx, a.ID, e.ID, 10)
		must(t, err)
		if st.Pending != 2 || st.Sending != 1 || st.Keys != 3 || st.HeldCount != 2 {
			t.Errorf("FIFOState counts pending %d sending %d keys %d held %d, want 2 1 3 2", st.Pending, st.Sending, st.Keys, st.HeldCount)
		}
		if len(st.Halted) != 2 || st.Halted[0].OrderingKey != "a" || st.Halted[1].OrderingKey != "c" {
			t.Fatalf("FIFOState halted %+v, want keys a and c", st.Halted)
		}
		h := st.Halted[0]
		if h.MsgID != a1.ID || !h.Since.Equal(heldA.Attempt.Timestamp) {
			t.Errorf("halted key a: message %s since %v, want %s since %v", h.MsgID, h.Since, a1.ID, heldA.Attempt.Timestamp)
		}
		if h.LastAttempt == nil || h.LastAttempt.ID != heldA.Attempt.ID || h.LastAttempt.ResponseStatusCode != 500 {
			t.Errorf("halted key a: last attempt %+v, want %s (500)", h.LastAttempt, heldA.Attempt.ID)
		}
		st, err = f.s.FIFOState(f.ctx, a.ID, e.ID, 1)
		must(t, err)
		if len(st.Halted) != 1 || st.HeldCount != 2 {
			t.Errorf("FIFOState with limit 1: %d halted listed, %d counted; want 1 and 2", len(st.Halted), st.HeldCount)
		}
		key := "a"
		_, err = f.s.ReleaseFIFO(f.ctx, a.ID, e.ID, &key)
		must(t, err)
		st, err = f.s.FIFOState(f.ctx, a.ID, e.ID, 10)
		must(t, err)
		if st.HeldCount != 1 || len(st.Halted) != 1 || st.Halted[0].OrderingKey != "c" {
			t.Errorf("after releasing a: held %d, halted %+v; want only c", st.HeldCount, st.Halted)
		}
		plain := f.endpoint(a.ID)
		st, err = f.s.FIFOState(f.ctx, a.ID, plain.ID, 10)
		must(t, err)
		if st.Pending+st.Sending+st.Keys+st.HeldCount != 0 || len(st.Halted) != 0 {
			t.Errorf("FIFOState of an endpoint without ordered deliveries: %+v", st)
		}
		_, err = f.s.FIFOState(f.ctx, f.app().ID, e.ID, 10)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"ReleaseUnknownEndpoint", func(t *testing.T, f *fixture) {
		a := f.app()
		other := f.app()
		e := f.fifoEndpoint(other.ID, hookd.FIFOStop)
		_, err := f.s.ReleaseFIFO(f.ctx, a.ID, e.ID, nil)
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = f.s.ReleaseFIFO(f.ctx, a.ID, "ep_missing", nil)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"ConcurrentClaimsKeepOneHeadPerKey", func(t *testing.T, f *fixture) {
		// Claimers racing (as nodes do) never have two deliveries of one key out at
		// once, and each key's deliveries finish in creation order. Half of them
		// follow each record with ClaimFIFOHeads of the keys it ended, as a
		// dispatcher does.
		a := f.app()
		e := f.fifoEndpoint(a.ID, "")
		const keys, perKey = 8, 6
		order := map[string][]string{}
		for i := range perKey {
			for k := range keys {
				key := fmt.Sprintf("k%d", k)
				m, _ := f.fifoMessage(a.ID, key, e)
				order[key] = append(order[key], m.ID)
				_ = i
			}
		}
		now := f.tick()
		var (
			mu   sync.Mutex
			out  = map[string]outState{} // key → its delivery out
			done = map[string][]string{}
			errs []string
		)
		ctx, cancel := context.WithTimeout(f.ctx, 2*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var ended []hookd.FIFOKey
				for i := 0; i < 400 && ctx.Err() == nil; i++ {
					ds, err := f.s.ClaimDeliveries(ctx, now, time.Hour, 3)
					if w%2 == 1 && len(ended) > 0 && err == nil {
						var heads []*hookd.Delivery
						heads, err = f.s.ClaimFIFOHeads(ctx, now, time.Hour, ended)
						ds = append(ds, heads...)
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
						return
					}
					mu.Lock()
					for _, d := range ds {
						// A claim may follow a record that committed before it reported
						// back, never one that had not started.
						if o, busy := out[d.OrderingKey]; busy && !o.recording {
							errs = append(errs, fmt.Sprintf("worker %d claimed %s of key %s while %s was out", w, d.MsgID, d.OrderingKey, o.msgID))
						}
						out[d.OrderingKey] = outState{msgID: d.MsgID}
					}
					mu.Unlock()
					var rs []hookd.AttemptResult
					for _, d := range ds {
						rs = append(rs, hookd.AttemptResult{Delivery: d, Status: hookd.StatusSuccess, NextAttempt: now, Attempts: 1})
					}
					mu.Lock()
					for _, d := range ds {
						done[d.OrderingKey] = append(done[d.OrderingKey], d.MsgID)
						out[d.OrderingKey] = outState{msgID: d.MsgID, recording: true}
					}
					mu.Unlock()
					if err := f.s.RecordAttempts(ctx, rs); err != nil {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
						return
					}
					ended = ended[:0]
					mu.Lock()
					for _, d := range ds {
						if out[d.OrderingKey].msgID == d.MsgID {
							delete(out, d.OrderingKey)
						}
						ended = append(ended, d.Key())
					}
					n := 0
					for _, l := range done {
						n += len(l)
					}
					mu.Unlock()
					if n == keys*perKey {
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, e := range errs {
			t.Error(e)
		}
		for key, want := range order {
			if !equalStrings(done[key], want) {
				t.Errorf("key %s done in order %v, want %v", key, done[key], want)
			}
		}
	}},
}

// outState is a delivery a claimer of ConcurrentClaimsKeepOneHeadPerKey holds.
type outState struct {
	msgID     string
	recording bool // its result is being recorded
}

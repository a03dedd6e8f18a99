package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// delivered creates a message of appID to e whose payload expires at expires, and
// records one successful attempt for it, with a response body and headers; the
// delivery is then final.
func (f *fixture) delivered(appID string, e *hookd.Endpoint, expires time.Time) (*hookd.Message, *hookd.Attempt) {
	f.t.Helper()
	m, _ := f.message(appID, []*hookd.Endpoint{e}, func(m *hookd.Message) { m.PayloadExpiresAt = expires })
	var d *hookd.Delivery
	for _, c := range f.claim(f.now, 100) {
		if c.MsgID == m.ID {
			d = c
		}
	}
	if d == nil {
		f.t.Fatalf("delivery of %s not claimed", m.ID)
	}
	r := f.result(d, hookd.StatusSuccess, 200)
	r.Attempt.Headers = &hookd.AttemptHeaders{Sent: map[string]string{"Content-Type": "application/json"}}
	must(f.t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
	return m, r.Attempt
}

// kept fails unless m's payload and a's response body and headers are as stored.
func (f *fixture) kept(m *hookd.Message, a *hookd.Attempt) {
	f.t.Helper()
	got, err := f.s.Message(f.ctx, m.AppID, m.ID)
	if err != nil {
		f.t.Fatalf("Message %s: %v", m.ID, err)
	}
	if got.PayloadExpired() || string(got.Payload) != string(m.Payload) {
		f.t.Errorf("payload of %s = %q, want it kept (%q)", m.ID, got.Payload, m.Payload)
	}
	ga, err := f.s.Attempt(f.ctx, a.AppID, a.MsgID, a.ID)
	if err != nil {
		f.t.Fatalf("Attempt %s: %v", a.ID, err)
	}
	if ga.Response != a.Response || ga.Headers == nil {
		f.t.Errorf("attempt %s: response %q, headers %+v; want both kept", a.ID, ga.Response, ga.Headers)
	}
}

// purged fails unless m's payload and a's body and headers are gone, the rest kept.
func (f *fixture) purged(m *hookd.Message, a *hookd.Attempt) {
	f.t.Helper()
	got, err := f.s.Message(f.ctx, m.AppID, m.ID)
	if err != nil {
		f.t.Fatalf("Message %s: %v", m.ID, err)
	}
	if !got.PayloadExpired() {
		f.t.Errorf("payload of %s = %q, want it purged", m.ID, got.Payload)
	}
	if got.EventType != m.EventType || !got.Timestamp.Equal(m.Timestamp) {
		f.t.Errorf("purged message %s lost its metadata: %+v", m.ID, got)
	}
	ga, err := f.s.Attempt(f.ctx, a.AppID, a.MsgID, a.ID)
	if err != nil {
		f.t.Fatalf("Attempt %s: %v", a.ID, err)
	}
	if ga.Response != "" || ga.Headers != nil {
		f.t.Errorf("attempt %s: response %q, headers %+v; want both purged", a.ID, ga.Response, ga.Headers)
	}
	if ga.ResponseStatusCode != a.ResponseStatusCode || ga.Status != a.Status {
		f.t.Errorf("purged attempt %s lost its metadata: %+v", a.ID, ga)
	}
}

var retentionTests = []test{
	keyedExpiryTest,
	{"PurgePayloadsBoundary", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		cutoff := t0.Add(time.Hour)
		past, pastAttempt := f.delivered(a.ID, e, cutoff.Add(-time.Microsecond))
		at, atAttempt := f.delivered(a.ID, e, cutoff)
		within, withinAttempt := f.delivered(a.ID, e, cutoff.Add(time.Microsecond))
		forever, foreverAttempt := f.delivered(a.ID, e, time.Time{})
		n, err := f.s.PurgePayloads(f.ctx, cutoff, 100)
		must(t, err)
		if n != 2 {
			t.Errorf("PurgePayloads = %d, want 2 (expired just before and at the cutoff)", n)
		}
		f.purged(past, pastAttempt)
		f.purged(at, atAttempt)
		f.kept(within, withinAttempt)
		f.kept(forever, foreverAttempt)
		if n, err := f.s.PurgePayloads(f.ctx, cutoff, 100); err != nil || n != 0 {
			t.Errorf("second PurgePayloads = %d, %v; want 0", n, err)
		}
	}},
	{"PurgePayloadsInBatches", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		var ms []*hookd.Message
		var as []*hookd.Attempt
		for i := range 5 {
			m, at := f.delivered(a.ID, e, t0.Add(time.Duration(i)*time.Second))
			ms, as = append(ms, m), append(as, at)
		}
		now := t0.Add(time.Hour)
		for _, want := range []int{2, 2, 1, 0} {
			n, err := f.s.PurgePayloads(f.ctx, now, 2)
			must(t, err)
			if n != want {
				t.Fatalf("PurgePayloads(limit 2) = %d, want %d", n, want)
			}
		}
		for i := range ms {
			f.purged(ms[i], as[i])
		}
	}},
	{"PurgePayloadsKeepsDueDeliveries", func(t *testing.T, f *fixture) {
		// A delivery still due needs its payload: the purge postpones the message
		// until the delivery can have finished, and purges it after.
		a := f.app()
		e := f.endpoint(a.ID)
		m, ds := f.message(a.ID, []*hookd.Endpoint{e}, func(m *hookd.Message) { m.PayloadExpiresAt = t0 })
		now := t0.Add(time.Hour)
		n, err := f.s.PurgePayloads(f.ctx, now, 10)
		must(t, err)
		if n != 1 {
			t.Errorf("PurgePayloads = %d, want 1 (looked at and postponed)", n)
		}
		if n, _ := f.s.PurgePayloads(f.ctx, now, 10); n != 0 {
			t.Errorf("PurgePayloads right after = %d, want 0 (postponed past now)", n)
		}
		got, err := f.s.Message(f.ctx, a.ID, m.ID)
		must(t, err)
		if got.PayloadExpired() {
			t.Fatal("payload purged while its delivery is pending")
		}
		f.now = now
		c := f.claim(now, 10)
		if len(c) != 1 || c[0].ID != ds[0].ID {
			t.Fatalf("claimed %v, want the pending delivery", ids(c, deliveryID))
		}
		r := f.result(c[0], hookd.StatusSuccess, 200)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		// In flight (sending) it was kept too; final now, it goes once the
		// postponement has passed.
		n, err = f.s.PurgePayloads(f.ctx, now.Add(time.Hour), 10)
		must(t, err)
		if n != 1 {
			t.Errorf("PurgePayloads after the delivery = %d, want 1", n)
		}
		f.purged(m, r.Attempt)
	}},
	{"ResendAfterPurge", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.delivered(a.ID, e, t0)
		kept, _ := f.delivered(a.ID, e, t0.Add(24*time.Hour))
		_, err := f.s.PurgePayloads(f.ctx, t0.Add(time.Hour), 10)
		must(t, err)
		now := t0.Add(2 * time.Hour)
		wantCode(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, e.ID, now), hookd.EPAYLOADEXPIRED)
		if d := f.delivery(a.ID, m.ID, e.ID); d.Status != hookd.StatusSuccess {
			t.Errorf("refused resend changed the delivery: %+v", d)
		}
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, kept.ID, e.ID, now))
	}},
	{"RecoverSkipsPurged", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		var ms []*hookd.Message
		for i := range 2 {
			m, _ := f.message(a.ID, []*hookd.Endpoint{e}, func(m *hookd.Message) { m.PayloadExpiresAt = t0.Add(time.Duration(i) * 48 * time.Hour) })
			ms = append(ms, m)
		}
		f.now = f.now.Add(time.Second)
		var rs []hookd.AttemptResult
		for _, d := range f.claim(f.now, 10) {
			r := f.result(d, hookd.StatusFail, 500)
			r.Status = hookd.StatusFail
			rs = append(rs, r)
		}
		must(t, f.s.RecordAttempts(f.ctx, rs))
		_, err := f.s.PurgePayloads(f.ctx, t0.Add(time.Hour), 10)
		must(t, err)
		n, err := f.s.RecoverDeliveries(f.ctx, a.ID, e.ID, t0.Add(-time.Hour), time.Time{}, t0.Add(2*time.Hour))
		must(t, err)
		if n != 1 {
			t.Errorf("RecoverDeliveries = %d, want 1 (not the message whose payload is gone)", n)
		}
		if d := f.delivery(a.ID, ms[0].ID, e.ID); d.Status != hookd.StatusFail {
			t.Errorf("delivery of the purged message = %v, want still failed", d.Status)
		}
	}},
	{"PurgeMessagesBoundary", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		old, oldAttempt := f.delivered(a.ID, e, time.Time{})
		f.now = f.now.Add(time.Second)
		pending, _ := f.message(a.ID, []*hookd.Endpoint{e}) // never attempted: still due
		f.now = f.now.Add(time.Second)
		cutoff := f.tick() // messages made from here on are within retention
		within, withinAttempt := f.delivered(a.ID, e, time.Time{})
		n, err := f.s.PurgeMessages(f.ctx, cutoff, 100)
		must(t, err)
		if n != 1 {
			t.Errorf("PurgeMessages = %d, want 1", n)
		}
		wantCode(t, func() error { _, err := f.s.Message(f.ctx, a.ID, old.ID); return err }(), hookd.ENOTFOUND)
		wantCode(t, func() error { _, err := f.s.Attempt(f.ctx, a.ID, old.ID, oldAttempt.ID); return err }(), hookd.ENOTFOUND)
		if ds, err := f.s.MessageDeliveries(f.ctx, a.ID, old.ID, hookd.Page{}); err != nil || len(ds) != 0 {
			t.Errorf("deliveries of the purged message: %v, %v; want none", ids(ds, deliveryID), err)
		}
		// A purged message takes no new delivery (the stores check, without a foreign key).
		late := &hookd.Delivery{ID: f.id(hookd.PrefixDelivery), AppID: a.ID, MsgID: old.ID, EndpointID: e.ID,
			Status: hookd.StatusPending, NextAttempt: f.now, Trigger: hookd.TriggerManual, CreatedAt: f.now, UpdatedAt: f.now}
		_, err = f.s.CreateDeliveries(f.ctx, []*hookd.Delivery{late})
		wantCode(t, err, hookd.ENOTFOUND)
		if _, err := f.s.Message(f.ctx, a.ID, pending.ID); err != nil {
			t.Errorf("message with a pending delivery was deleted: %v", err)
		}
		f.kept(within, withinAttempt)
		if n, err := f.s.PurgeMessages(f.ctx, cutoff, 100); err != nil || n != 0 {
			t.Errorf("second PurgeMessages = %d, %v; want 0", n, err)
		}
	}},
	{"ReclaimSpace", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, at := f.delivered(a.ID, e, time.Time{})
		now := time.Now()
		must(t, f.s.ReclaimSpace(f.ctx, now.Add(-90*24*time.Hour), now))
		must(t, f.s.ReclaimSpace(f.ctx, now.Add(-90*24*time.Hour), now))
		f.kept(m, at)
	}},
}

// keyedExpiryTest is one of retentionTests.
var keyedExpiryTest = test{"PayloadExpiresAtWithIdempotencyKey", func(t *testing.T, f *fixture) {
	// A message created with an idempotent answer keeps its expiry too, alone
	// and created concurrently with others (stores may batch those).
	a := f.app()
	var ms []*hookd.Message
	for i := range 6 {
		m, ds := f.newMessage(a.ID, nil, func(m *hookd.Message) { m.PayloadExpiresAt = t0 })
		if i%2 == 0 {
			m.Idempotency = &hookd.IdempotentResponse{Key: "retention-key-" + m.ID, StatusCode: 202,
				ContentType: "application/json", Body: []byte(`{}`), CreatedAt: m.Timestamp}
		}
		ms = append(ms, m)
		_ = ds
	}
	if _, err := f.s.CreateMessage(f.ctx, ms[0], nil); err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i := 1; i < len(ms); i++ {
		wg.Go(func() { _, errs[i] = f.s.CreateMessage(f.ctx, ms[i], nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateMessage %d: %v", i, err)
		}
	}
	n, err := f.s.PurgePayloads(f.ctx, t0.Add(time.Hour), 100)
	must(t, err)
	if n != len(ms) {
		t.Errorf("PurgePayloads = %d, want %d", n, len(ms))
	}
	for _, m := range ms {
		got, err := f.s.Message(f.ctx, a.ID, m.ID)
		must(t, err)
		if !got.PayloadExpired() {
			t.Errorf("message %s (key %v) kept its payload past PayloadExpiresAt", m.ID, m.Idempotency != nil)
		}
	}
}}

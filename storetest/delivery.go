package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// dueAt creates a message of appID to e whose delivery is due at due.
func (f *fixture) dueAt(appID string, e *hookd.Endpoint, due time.Time) (*hookd.Message, *hookd.Delivery) {
	f.t.Helper()
	m, ds := f.newMessage(appID, []*hookd.Endpoint{e})
	ds[0].NextAttempt = due
	if _, err := f.s.CreateMessage(f.ctx, m, ds); err != nil {
		f.t.Fatalf("CreateMessage: %v", err)
	}
	return m, ds[0]
}

// delivery returns the stored delivery of (msgID, endpointID).
func (f *fixture) delivery(appID, msgID, endpointID string) *hookd.Delivery {
	f.t.Helper()
	ds, err := f.s.MessageDeliveries(f.ctx, appID, msgID, hookd.Page{Limit: 250})
	if err != nil {
		f.t.Fatalf("MessageDeliveries: %v", err)
	}
	for _, d := range ds {
		if d.EndpointID == endpointID {
			return d
		}
	}
	f.t.Fatalf("no delivery of %s to %s", msgID, endpointID)
	return nil
}

func (f *fixture) claim(now time.Time, limit int) []*hookd.Delivery {
	f.t.Helper()
	ds, err := f.s.ClaimDeliveries(f.ctx, now, time.Minute, limit)
	if err != nil {
		f.t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

var deliveryTests = []test{
	{"ClaimOnlyDueOldestFirst", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		now := t0.Add(time.Hour)
		m3, d3 := f.dueAt(a.ID, e, now.Add(-1*time.Minute))
		_, _ = f.dueAt(a.ID, e, now.Add(time.Second)) // not yet due
		m1, d1 := f.dueAt(a.ID, e, now.Add(-3*time.Minute))
		_, d2 := f.dueAt(a.ID, e, now) // due exactly now
		got := f.claim(now, 10)
		if want := []string{d1.ID, d3.ID, d2.ID}; !equalStrings(ids(got, deliveryID), want) {
			t.Fatalf("claimed %v, want %v (due ones, oldest due first)", ids(got, deliveryID), want)
		}
		c := got[0]
		if c.Status != hookd.StatusSending || !c.NextAttempt.Equal(now.Add(time.Minute)) {
			t.Errorf("claimed delivery status %v next %v, want sending until now+lease", c.Status, c.NextAttempt)
		}
		if c.Lease == d1.Lease {
			t.Errorf("claim kept the lease %d", c.Lease)
		}
		if c.AppID != a.ID || c.MsgID != m1.ID || c.EndpointID != e.ID || c.Trigger != hookd.TriggerScheduled {
			t.Errorf("claimed delivery = %+v", c)
		}
		if !reflect.DeepEqual(c.Message, m1) {
			t.Errorf("claimed Message = %+v, want %+v", c.Message, m1)
		}
		if got[1].Message == nil || got[1].Message.ID != m3.ID {
			t.Errorf("second claimed delivery's Message = %+v", got[1].Message)
		}
		stored := f.delivery(a.ID, m1.ID, e.ID)
		if stored.Status != hookd.StatusSending || stored.Lease != c.Lease || !stored.NextAttempt.Equal(c.NextAttempt) {
			t.Errorf("stored after claim = %+v, claimed %+v", stored, c)
		}
	}},
	{"ClaimLimit", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		for range 5 {
			f.message(a.ID, []*hookd.Endpoint{e})
		}
		now := f.now.Add(time.Second)
		if got := f.claim(now, 2); len(got) != 2 {
			t.Fatalf("claimed %d, want 2", len(got))
		}
		if got := f.claim(now, 10); len(got) != 3 {
			t.Fatalf("claimed %d, want the remaining 3", len(got))
		}
		if got := f.claim(now, 10); len(got) != 0 {
			t.Fatalf("claimed %d while every lease holds, want 0", len(got))
		}
	}},
	{"ExpiredLeaseClaimableAgain", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		f.message(a.ID, []*hookd.Endpoint{e})
		now := f.now.Add(time.Second)
		first := f.claim(now, 1)
		if len(first) != 1 {
			t.Fatalf("claimed %d, want 1", len(first))
		}
		if got := f.claim(now.Add(59*time.Second), 1); len(got) != 0 {
			t.Fatalf("claimed a delivery whose lease holds")
		}
		again := f.claim(now.Add(time.Minute), 1) // the lease ends at now+1m
		if len(again) != 1 || again[0].ID != first[0].ID {
			t.Fatalf("expired lease not claimable again: %v", ids(again, deliveryID))
		}
		if again[0].Lease == first[0].Lease {
			t.Errorf("second claim has the first claim's lease %d", again[0].Lease)
		}
		// The first worker's result no longer applies.
		r := f.result(first[0], hookd.StatusSuccess, 200)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		if d := f.delivery(a.ID, first[0].MsgID, e.ID); d.Status != hookd.StatusSending {
			t.Errorf("stale lease's result applied: status %v", d.Status)
		}
	}},
	{"ClaimConcurrent", func(t *testing.T, f *fixture) {
		a := f.app()
		eps := []*hookd.Endpoint{f.endpoint(a.ID), f.endpoint(a.ID)}
		const messages = 100
		for range messages {
			f.message(a.ID, eps)
		}
		now := f.now.Add(time.Second)
		var (
			mu   sync.Mutex
			seen = map[string]int{}
			wg   sync.WaitGroup
			errs = make(chan error, 8)
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 2 * messages { // bounded
					ds, err := f.s.ClaimDeliveries(f.ctx, now, time.Minute, 7)
					if err != nil {
						errs <- err
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					for _, d := range ds {
						seen[d.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != messages*len(eps) {
			t.Errorf("claimed %d distinct deliveries, want %d", len(seen), messages*len(eps))
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("delivery %s handed out %d times", id, n)
			}
		}
	}},
	{"RecordAttempts", func(t *testing.T, f *fixture) {
		a := f.app()
		e1, e2 := f.endpoint(a.ID), f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e1, e2})
		f.now = f.now.Add(time.Second)
		claimed := f.claim(f.now, 10)
		if len(claimed) != 2 {
			t.Fatalf("claimed %d, want 2", len(claimed))
		}
		var results []hookd.AttemptResult
		for _, d := range claimed {
			if d.EndpointID == e1.ID {
				results = append(results, f.result(d, hookd.StatusSuccess, 204))
			} else {
				results = append(results, f.result(d, hookd.StatusFail, 503))
			}
		}
		must(t, f.s.RecordAttempts(f.ctx, results))
		for _, r := range results {
			d := f.delivery(a.ID, m.ID, r.Delivery.EndpointID)
			if d.Status != r.Status || !d.NextAttempt.Equal(r.NextAttempt) || d.Attempts != r.Attempts {
				t.Errorf("delivery to %s = status %v next %v attempts %d; want %v %v %d",
					d.EndpointID, d.Status, d.NextAttempt, d.Attempts, r.Status, r.NextAttempt, r.Attempts)
			}
			got, err := f.s.Attempt(f.ctx, a.ID, m.ID, r.Attempt.ID)
			must(t, err)
			if !reflect.DeepEqual(got, r.Attempt) {
				t.Errorf("Attempt =\n%+v, want\n%+v", got, r.Attempt)
			}
		}
	}},
	{"RecordAttemptsStaleLease", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		d := f.claim(f.now, 1)[0]
		stale := *d
		stale.Lease = d.Lease + 1000
		r := f.result(&stale, hookd.StatusSuccess, 200)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		got := f.delivery(a.ID, m.ID, e.ID)
		if got.Status != hookd.StatusSending || got.Attempts != 0 || got.Lease != d.Lease {
			t.Errorf("stale lease changed the delivery: %+v", got)
		}
		// The attempt is logged whatever happened to the claim.
		if _, err := f.s.Attempt(f.ctx, a.ID, m.ID, r.Attempt.ID); err != nil {
			t.Errorf("attempt of a lost claim not logged: %v", err)
		}
	}},
	{"FailingSince", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		other := f.endpoint(a.ID)
		f.message(a.ID, []*hookd.Endpoint{e, other})
		failingSince := func() *time.Time {
			got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
			must(t, err)
			return got.FailingSince
		}
		step := func(status hookd.Status, code int) time.Time {
			f.now = f.now.Add(time.Minute)
			var d *hookd.Delivery
			for _, c := range f.claim(f.now, 10) {
				if c.EndpointID == e.ID {
					d = c
				}
			}
			if d == nil {
				t.Fatal("delivery to e not claimable")
			}
			r := f.result(d, status, code)
			must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
			return r.Attempt.Timestamp
		}
		first := step(hookd.StatusFail, 500)
		if got := failingSince(); got == nil || !got.Equal(first) {
			t.Fatalf("FailingSince after a failure = %v, want %v", got, first)
		}
		step(hookd.StatusFail, 0)
		if got := failingSince(); got == nil || !got.Equal(first) {
			t.Fatalf("FailingSince after a second failure = %v, want it kept at %v", got, first)
		}
		step(hookd.StatusSuccess, 200)
		if got := failingSince(); got != nil {
			t.Fatalf("FailingSince after a success = %v, want nil", got)
		}
		if got, err := f.s.Endpoint(f.ctx, a.ID, other.ID); err != nil || got.FailingSince != nil {
			t.Errorf("other endpoint's FailingSince = %v, %v", got.FailingSince, err)
		}
	}},
	{"RecordAttemptsTogether", func(t *testing.T, f *fixture) {
		// Several results of one call commit together, including two for one
		// endpoint: failure then success leaves the endpoint healthy.
		a := f.app()
		e := f.endpoint(a.ID)
		f.message(a.ID, []*hookd.Endpoint{e})
		f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		c := f.claim(f.now, 2)
		fail := f.result(c[0], hookd.StatusFail, 500)
		ok := f.result(c[1], hookd.StatusSuccess, 200)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{fail, ok}))
		got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if got.FailingSince != nil {
			t.Errorf("FailingSince = %v after failure then success", got.FailingSince)
		}
		atts, err := f.s.AttemptsByEndpoint(f.ctx, a.ID, e.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(atts) != 2 {
			t.Errorf("attempts = %d, want 2", len(atts))
		}
	}},
	{"Postpone", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m1, _ := f.message(a.ID, []*hookd.Endpoint{e})
		m2, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		c := f.claim(f.now, 2)
		if len(c) != 2 {
			t.Fatalf("claimed %d, want 2", len(c))
		}
		stale := *c[1]
		stale.Lease += 1000
		until := f.now.Add(30 * time.Second)
		must(t, f.s.PostponeDeliveries(f.ctx, []*hookd.Delivery{c[0], &stale}, until))
		d1 := f.delivery(a.ID, m1.ID, e.ID)
		if d1.Status != hookd.StatusPending || !d1.NextAttempt.Equal(until) || d1.Attempts != 0 {
			t.Errorf("postponed delivery = %+v, want pending until %v", d1, until)
		}
		d2 := f.delivery(a.ID, m2.ID, e.ID)
		if d2.Status != hookd.StatusSending || !d2.NextAttempt.Equal(c[1].NextAttempt) {
			t.Errorf("postpone with a stale lease changed the delivery: %+v", d2)
		}
		if got := f.claim(until.Add(-time.Millisecond), 10); len(got) != 0 {
			t.Errorf("postponed delivery claimable before until")
		}
		if got := f.claim(until, 10); len(got) != 1 || got[0].MsgID != m1.ID {
			t.Errorf("postponed delivery not claimable at until: %v", ids(got, deliveryID))
		}
	}},
	{"NextDue", func(t *testing.T, f *fixture) {
		if _, ok, err := f.s.NextDue(f.ctx); err != nil || ok {
			t.Fatalf("NextDue on an empty store = %v, %v", ok, err)
		}
		a := f.app()
		e := f.endpoint(a.ID)
		later := t0.Add(2 * time.Hour)
		sooner := t0.Add(time.Hour)
		f.dueAt(a.ID, e, later)
		f.dueAt(a.ID, e, sooner)
		got, ok, err := f.s.NextDue(f.ctx)
		must(t, err)
		if !ok || !got.Equal(sooner) {
			t.Fatalf("NextDue = %v, %v; want %v", got, ok, sooner)
		}
		// A claimed (sending) delivery is due again when its lease ends.
		c := f.claim(sooner, 1)
		got, ok, err = f.s.NextDue(f.ctx)
		must(t, err)
		if !ok || !got.Equal(c[0].NextAttempt) {
			t.Fatalf("NextDue with a lease = %v, want the lease end %v", got, c[0].NextAttempt)
		}
		// Finished deliveries are never due.
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{f.result(c[0], hookd.StatusSuccess, 200)}))
		got, ok, err = f.s.NextDue(f.ctx)
		must(t, err)
		if !ok || !got.Equal(later) {
			t.Fatalf("NextDue = %v, %v; want %v", got, ok, later)
		}
	}},
	{"CreateDeliveriesSkipsExisting", func(t *testing.T, f *fixture) {
		a := f.app()
		e1, e2, e3 := f.endpoint(a.ID), f.endpoint(a.ID), f.endpoint(a.ID)
		m, existing := f.message(a.ID, []*hookd.Endpoint{e1})
		_, more := f.newMessage(a.ID, []*hookd.Endpoint{e1, e2, e3})
		for _, d := range more {
			d.MsgID = m.ID
		}
		n, err := f.s.CreateDeliveries(f.ctx, more)
		must(t, err)
		if n != 2 {
			t.Errorf("CreateDeliveries inserted %d, want 2", n)
		}
		if d := f.delivery(a.ID, m.ID, e1.ID); d.ID != existing[0].ID {
			t.Errorf("existing delivery replaced: %s, want %s", d.ID, existing[0].ID)
		}
		n, err = f.s.CreateDeliveries(f.ctx, more)
		must(t, err)
		if n != 0 {
			t.Errorf("CreateDeliveries again inserted %d, want 0", n)
		}
		ds, err := f.s.MessageDeliveries(f.ctx, a.ID, m.ID, hookd.Page{Limit: 10})
		must(t, err)
		if len(ds) != 3 {
			t.Errorf("deliveries = %d, want 3", len(ds))
		}
		n, err = f.s.CreateDeliveries(f.ctx, nil)
		if err != nil || n != 0 {
			t.Errorf("CreateDeliveries(nil) = %d, %v", n, err)
		}
	}},
	{"ResendExisting", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		d := f.claim(f.now, 1)[0]
		r := f.result(d, hookd.StatusFail, 500)
		r.Status, r.Attempts = hookd.StatusFail, 8 // exhausted
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))

		now := f.now.Add(time.Hour)
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, e.ID, now))
		got := f.delivery(a.ID, m.ID, e.ID)
		if got.ID != d.ID || got.Status != hookd.StatusPending || got.Attempts != 0 ||
			got.Trigger != hookd.TriggerManual || !got.NextAttempt.Equal(now) {
			t.Fatalf("after resend = %+v, want the same delivery pending at %v, manual, 0 attempts", got, now)
		}
		c := f.claim(now, 10)
		if len(c) != 1 || c[0].Trigger != hookd.TriggerManual {
			t.Fatalf("resent delivery claimed as %+v", c)
		}
	}},
	{"ResendInFlightInvalidatesLease", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		d := f.claim(f.now, 1)[0]
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, e.ID, f.now))
		// The worker that held the claim before the resend cannot overwrite it.
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{f.result(d, hookd.StatusSuccess, 200)}))
		got := f.delivery(a.ID, m.ID, e.ID)
		if got.Status != hookd.StatusPending || got.Trigger != hookd.TriggerManual {
			t.Errorf("resend overwritten by an earlier claim: %+v", got)
		}
	}},
	{"ResendNew", func(t *testing.T, f *fixture) {
		a := f.app()
		e1 := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e1})
		e2 := f.endpoint(a.ID) // created after the message: no delivery yet
		now := f.now.Add(time.Minute)
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, e2.ID, now))
		got := f.delivery(a.ID, m.ID, e2.ID)
		if got.ID == "" || got.AppID != a.ID || got.Status != hookd.StatusPending || got.Attempts != 0 ||
			got.Trigger != hookd.TriggerManual || !got.NextAttempt.Equal(now) {
			t.Errorf("new resent delivery = %+v", got)
		}
	}},
	{"ResendNotFound", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		e := f.endpoint(a.ID)
		eB := f.endpoint(b.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		mB, _ := f.message(b.ID, nil)
		now := f.now
		wantCode(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, "msg_missing", e.ID, now), hookd.ENOTFOUND)
		wantCode(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, "ep_missing", now), hookd.ENOTFOUND)
		wantCode(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), b.ID, m.ID, eB.ID, now), hookd.ENOTFOUND)
		wantCode(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, eB.ID, now), hookd.ENOTFOUND)
		wantCode(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, mB.ID, e.ID, now), hookd.ENOTFOUND)
	}},
	{"RecoverWindow", func(t *testing.T, f *fixture) {
		a := f.app()
		e, other := f.endpoint(a.ID), f.endpoint(a.ID)
		var msgs []*hookd.Message
		for i := range 4 {
			m, _ := f.message(a.ID, []*hookd.Endpoint{e, other}, func(m *hookd.Message) {
				m.Timestamp = t0.Add(time.Duration(i+1) * time.Hour)
			})
			msgs = append(msgs, m)
		}
		// Fail every delivery but the one of message 3 to e, which succeeds.
		now := t0.Add(10 * time.Hour)
		var results []hookd.AttemptResult
		for _, d := range f.claim(now, 100) {
			if d.MsgID == msgs[2].ID && d.EndpointID == e.ID {
				results = append(results, f.result(d, hookd.StatusSuccess, 200))
				continue
			}
			r := f.result(d, hookd.StatusFail, 500)
			r.Status = hookd.StatusFail
			results = append(results, r)
		}
		must(t, f.s.RecordAttempts(f.ctx, results))

		later := now.Add(time.Hour)
		// [2h, 4h): messages 2 and 3; message 3 to e succeeded, so one delivery.
		n, err := f.s.RecoverDeliveries(f.ctx, a.ID, e.ID, t0.Add(2*time.Hour), t0.Add(4*time.Hour), later)
		must(t, err)
		if n != 1 {
			t.Fatalf("RecoverDeliveries = %d, want 1", n)
		}
		d := f.delivery(a.ID, msgs[1].ID, e.ID)
		if d.Status != hookd.StatusPending || d.Attempts != 0 || d.Trigger != hookd.TriggerManual || !d.NextAttempt.Equal(later) {
			t.Errorf("recovered delivery = %+v", d)
		}
		for _, i := range []int{0, 3} {
			if d := f.delivery(a.ID, msgs[i].ID, e.ID); d.Status != hookd.StatusFail {
				t.Errorf("delivery of message %d outside the window recovered: %+v", i+1, d)
			}
		}
		if d := f.delivery(a.ID, msgs[1].ID, other.ID); d.Status != hookd.StatusFail {
			t.Errorf("other endpoint's delivery recovered: %+v", d)
		}
		// A zero until has no upper bound.
		n, err = f.s.RecoverDeliveries(f.ctx, a.ID, e.ID, t0.Add(4*time.Hour), time.Time{}, later)
		must(t, err)
		if n != 1 {
			t.Errorf("RecoverDeliveries without until = %d, want 1", n)
		}
		_, err = f.s.RecoverDeliveries(f.ctx, a.ID, "ep_missing", t0, time.Time{}, later)
		wantCode(t, err, hookd.ENOTFOUND)
		b := f.app()
		_, err = f.s.RecoverDeliveries(f.ctx, b.ID, e.ID, t0, time.Time{}, later)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"MessageDeliveries", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		var eps []*hookd.Endpoint
		var want []string
		for range 5 {
			e := f.endpoint(a.ID)
			eps = append(eps, e)
			want = append(want, e.ID)
		}
		m, _ := f.message(a.ID, eps)
		checkPaging(t, want, func(p hookd.Page) ([]string, error) {
			l, err := f.s.MessageDeliveries(f.ctx, a.ID, m.ID, p)
			return ids(l, func(d *hookd.Delivery) string { return d.EndpointID }), err
		})
		l, err := f.s.MessageDeliveries(f.ctx, b.ID, m.ID, hookd.Page{Limit: 10})
		must(t, err)
		if len(l) != 0 {
			t.Errorf("app B sees %d deliveries of app A's message", len(l))
		}
	}},
	{"EndpointDeliveries", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		e, other := f.endpoint(a.ID), f.endpoint(a.ID)
		mk := func(eventType string, channels []string, at time.Time) *hookd.Message {
			m, _ := f.message(a.ID, []*hookd.Endpoint{e, other}, func(m *hookd.Message) {
				m.EventType, m.Channels, m.Timestamp = eventType, channels, at
				m.Tags = channels
			})
			return m
		}
		m1 := mk("invoice.paid", []string{"eu"}, t0.Add(1*time.Hour))
		m2 := mk("invoice.failed", nil, t0.Add(2*time.Hour))
		m3 := mk("invoice.paid", []string{"us"}, t0.Add(3*time.Hour))
		// m2's delivery to e succeeds.
		for _, d := range f.claim(t0.Add(5*time.Hour), 100) {
			if d.MsgID == m2.ID && d.EndpointID == e.ID {
				must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{f.result(d, hookd.StatusSuccess, 200)}))
			} else {
				must(t, f.s.PostponeDeliveries(f.ctx, []*hookd.Delivery{d}, t0.Add(6*time.Hour)))
			}
		}
		all := []string{m1.ID, m2.ID, m3.ID}
		checkPaging(t, all, func(p hookd.Page) ([]string, error) {
			l, err := f.s.EndpointDeliveries(f.ctx, a.ID, e.ID, hookd.DeliveryFilter{}, p)
			return ids(l, func(d *hookd.Delivery) string { return d.MsgID }), err
		})
		l, err := f.s.EndpointDeliveries(f.ctx, a.ID, e.ID, hookd.DeliveryFilter{}, hookd.Page{Limit: 10, Ascending: true})
		must(t, err)
		for i, d := range l {
			if d.Message == nil || d.Message.ID != d.MsgID || d.EndpointID != e.ID {
				t.Errorf("delivery %d = %+v with Message %+v", i, d, d.Message)
			}
		}
		if len(l) == 3 && !reflect.DeepEqual(l[0].Message, m1) {
			t.Errorf("Message = %+v, want %+v", l[0].Message, m1)
		}
		cases := []struct {
			name   string
			filter hookd.DeliveryFilter
			want   []string
		}{
			{"status success", hookd.DeliveryFilter{Status: statusPtr(hookd.StatusSuccess)}, []string{m2.ID}},
			{"status pending", hookd.DeliveryFilter{Status: statusPtr(hookd.StatusPending)}, []string{m1.ID, m3.ID}},
			{"status fail", hookd.DeliveryFilter{Status: statusPtr(hookd.StatusFail)}, nil},
			{"event type", hookd.DeliveryFilter{EventTypes: []string{"invoice.paid"}}, []string{m1.ID, m3.ID}},
			{"channel", hookd.DeliveryFilter{Channel: "us"}, []string{m3.ID}},
			{"tag", hookd.DeliveryFilter{Tag: "eu"}, []string{m1.ID}},
			{"before is exclusive", hookd.DeliveryFilter{Before: t0.Add(2 * time.Hour)}, []string{m1.ID}},
			{"after is exclusive", hookd.DeliveryFilter{After: t0.Add(2 * time.Hour)}, []string{m3.ID}},
			{"combined", hookd.DeliveryFilter{Status: statusPtr(hookd.StatusPending), EventTypes: []string{"invoice.paid"}, After: t0.Add(90 * time.Minute)}, []string{m3.ID}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				l, err := f.s.EndpointDeliveries(f.ctx, a.ID, e.ID, tc.filter, hookd.Page{Limit: 10, Ascending: true})
				must(t, err)
				if got := ids(l, func(d *hookd.Delivery) string { return d.MsgID }); !equalStrings(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
		l, err = f.s.EndpointDeliveries(f.ctx, b.ID, e.ID, hookd.DeliveryFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(l) != 0 {
			t.Errorf("app B sees %d deliveries of app A's endpoint", len(l))
		}
	}},
}

package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// recordTests hold the rules of RecordAttempts that the stores once disagreed on, and
// page clamping: each test names the rule of the interface's doc comment it checks.
var recordTests = []test{
	{"AttemptOfDeletedAppDropped", func(t *testing.T, f *fixture) {
		// Rule: an attempt whose message no longer exists is dropped, and the rest of
		// the batch is recorded.
		a, b := f.app(), f.app()
		ea, eb := f.endpoint(a.ID), f.endpoint(b.ID)
		ma, _ := f.message(a.ID, []*hookd.Endpoint{ea})
		mb, _ := f.message(b.ID, []*hookd.Endpoint{eb})
		f.now = f.now.Add(time.Second)
		c := f.claim(f.now, 10)
		if len(c) != 2 {
			t.Fatalf("claimed %d, want 2", len(c))
		}
		var results []hookd.AttemptResult
		for _, d := range c {
			results = append(results, f.result(d, hookd.StatusFail, 500))
		}
		must(t, f.s.DeleteApp(f.ctx, a.ID))
		must(t, f.s.RecordAttempts(f.ctx, results))
		for _, r := range results {
			_, err := f.s.Attempt(f.ctx, r.Delivery.AppID, r.Delivery.MsgID, r.Attempt.ID)
			switch r.Delivery.MsgID {
			case ma.ID:
				wantCode(t, err, hookd.ENOTFOUND)
				l, err := f.s.AttemptsByEndpoint(f.ctx, a.ID, ea.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
				must(t, err)
				if len(l) != 0 {
					t.Errorf("deleted application's endpoint has %d attempts, want 0", len(l))
				}
			case mb.ID:
				must(t, err)
			}
		}
		if got := f.delivery(b.ID, mb.ID, eb.ID); got.Status != hookd.StatusPending || got.Attempts != 1 {
			t.Errorf("the other application's delivery = %+v, want its result applied", got)
		}
	}},
	{"TriggerScheduledAfterManualAttempt", func(t *testing.T, f *fixture) {
		// Rule: a recorded result makes the delivery's trigger scheduled.
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, e.ID, f.now))
		c := f.claim(f.now, 1)
		if len(c) != 1 || c[0].Trigger != hookd.TriggerManual {
			t.Fatalf("claimed %+v, want the resent delivery with a manual trigger", c)
		}
		r := f.result(c[0], hookd.StatusFail, 500)
		r.Status = hookd.StatusFail
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		if got := f.delivery(a.ID, m.ID, e.ID); got.Trigger != hookd.TriggerScheduled || got.Status != hookd.StatusFail {
			t.Errorf("after a manual attempt the delivery = %+v, want failed with a scheduled trigger", got)
		}
		got, err := f.s.Attempt(f.ctx, a.ID, m.ID, r.Attempt.ID)
		must(t, err)
		if got.Trigger != hookd.TriggerManual {
			t.Errorf("the attempt's trigger = %v, want manual (it was made by the resend)", got.Trigger)
		}
	}},
	{"EmptyAttemptKeysFromDelivery", func(t *testing.T, f *fixture) {
		// Rule: an attempt's empty keys are its delivery's; the caller's attempt is
		// left as it was.
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		r := f.result(f.claim(f.now, 1)[0], hookd.StatusFail, 500)
		r.Attempt.AppID, r.Attempt.MsgID, r.Attempt.EndpointID = "", "", ""
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		if r.Attempt.AppID != "" || r.Attempt.MsgID != "" || r.Attempt.EndpointID != "" {
			t.Errorf("RecordAttempts changed the caller's attempt: %+v", r.Attempt)
		}
		got, err := f.s.Attempt(f.ctx, a.ID, m.ID, r.Attempt.ID)
		must(t, err)
		if got.AppID != a.ID || got.MsgID != m.ID || got.EndpointID != e.ID {
			t.Errorf("stored attempt keys = %s %s %s, want the delivery's %s %s %s",
				got.AppID, got.MsgID, got.EndpointID, a.ID, m.ID, e.ID)
		}
		l, err := f.s.AttemptsByEndpoint(f.ctx, a.ID, e.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(l) != 1 {
			t.Errorf("endpoint has %d attempts, want 1", len(l))
		}
		ep, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if ep.FailingSince == nil || !ep.FailingSince.Equal(r.Attempt.Timestamp) {
			t.Errorf("FailingSince = %v, want the keyless failure's time %v", ep.FailingSince, r.Attempt.Timestamp)
		}
	}},
	{"RecordTwice", func(t *testing.T, f *fixture) {
		// Rule: an attempt already logged is not inserted again.
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		r := f.result(f.claim(f.now, 1)[0], hookd.StatusFail, 500)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		l, err := f.s.AttemptsByMessage(f.ctx, a.ID, m.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(l) != 1 {
			t.Errorf("attempts after recording one twice = %d, want 1", len(l))
		}
		if got := f.delivery(a.ID, m.ID, e.ID); got.Attempts != r.Attempts || got.Status != r.Status {
			t.Errorf("delivery = %+v, want the result applied once", got)
		}
	}},
	{"SuccessThenFailureInOneBatch", func(t *testing.T, f *fixture) {
		// EndpointHealth: a failure after a success in one batch starts a new run of
		// failures at the failure, replacing an older FailingSince.
		a := f.app()
		e := f.endpoint(a.ID)
		f.message(a.ID, []*hookd.Endpoint{e})
		f.message(a.ID, []*hookd.Endpoint{e})
		f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		c := f.claim(f.now, 3)
		if len(c) != 3 {
			t.Fatalf("claimed %d, want 3", len(c))
		}
		first := f.result(c[0], hookd.StatusFail, 500)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{first}))
		f.now = f.now.Add(time.Minute)
		ok := f.result(c[1], hookd.StatusSuccess, 200)
		f.now = f.now.Add(time.Minute)
		fail := f.result(c[2], hookd.StatusFail, 500)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{ok, fail}))
		ep, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if ep.FailingSince == nil || !ep.FailingSince.Equal(fail.Attempt.Timestamp) {
			t.Errorf("FailingSince = %v, want %v (the failure after the success)", ep.FailingSince, fail.Attempt.Timestamp)
		}
	}},
	{"PageClamped", func(t *testing.T, f *fixture) {
		// Page.Size: a list returns at most MaxPageLimit rows, and DefaultPageLimit
		// when the page asks for none.
		apps := make([]*hookd.Application, hookd.MaxPageLimit+1)
		for i := range apps {
			apps[i] = &hookd.Application{ID: f.id(hookd.PrefixApp), Name: "app", CreatedAt: f.now, UpdatedAt: f.now}
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(apps))
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(apps); i += 8 {
					if err := f.s.CreateApp(f.ctx, apps[i]); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, tc := range []struct{ limit, want int }{
			{0, hookd.DefaultPageLimit}, {-1, hookd.DefaultPageLimit}, {7, 7},
			{hookd.MaxPageLimit + 1, hookd.MaxPageLimit}, {10 * hookd.MaxPageLimit, hookd.MaxPageLimit},
		} {
			l, err := f.s.Apps(f.ctx, hookd.Page{Limit: tc.limit})
			must(t, err)
			if len(l) != tc.want {
				t.Errorf("Apps(Limit %d) = %d rows, want %d", tc.limit, len(l), tc.want)
			}
		}
	}},
}

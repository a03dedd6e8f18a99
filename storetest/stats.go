package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var statsTests = []test{
	{"AttemptCountsPerMinute", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		minute := t0.Truncate(time.Minute)
		// Two batches in the same minute add up; a third lands in the next minute.
		var results []hookd.AttemptResult
		for i := range 3 {
			_, d := f.dueAt(a.ID, e, f.now)
			status := hookd.StatusSuccess
			if i == 2 {
				status = hookd.StatusFail
			}
			r := f.result(d, status, 200)
			r.Attempt.Timestamp = minute.Add(10 * time.Second)
			results = append(results, r)
		}
		must(t, f.s.RecordAttempts(f.ctx, results[:2]))
		must(t, f.s.RecordAttempts(f.ctx, results[2:]))
		_, d := f.dueAt(a.ID, e, f.now)
		r := f.result(d, hookd.StatusFail, 500)
		r.Attempt.Timestamp = minute.Add(time.Minute + 59*time.Second)
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))

		got, err := f.s.AttemptCounts(f.ctx, minute.Add(-time.Hour), minute.Add(time.Hour))
		must(t, err)
		want := []hookd.AttemptCount{
			{Minute: minute, Success: 2, Fail: 1},
			{Minute: minute.Add(time.Minute), Fail: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("AttemptCounts = %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].Minute.Equal(want[i].Minute) || got[i].Success != want[i].Success || got[i].Fail != want[i].Fail {
				t.Fatalf("AttemptCounts = %+v, want %+v", got, want)
			}
		}
		// The range is half-open.
		got, err = f.s.AttemptCounts(f.ctx, minute.Add(time.Minute), minute.Add(2*time.Minute))
		must(t, err)
		if len(got) != 1 || got[0].Fail != 1 {
			t.Fatalf("AttemptCounts of the second minute = %+v, want one failure", got)
		}
		got, err = f.s.AttemptCounts(f.ctx, minute.Add(-time.Hour), minute)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("AttemptCounts before the first minute = %+v, want none", got)
		}
	}},
	{"AttemptCountsCountLoggedAttemptsOnce", func(t *testing.T, f *fixture) {
		// Rule: the counters count the attempts RecordAttempts logs, so an attempt
		// recorded again (the same ID) or dropped (its message deleted) is not counted.
		// On SQLite's replaying store every write also runs twice.
		a, gone := f.app(), f.app()
		e, eg := f.endpoint(a.ID), f.endpoint(gone.ID)
		f.message(a.ID, []*hookd.Endpoint{e})
		f.message(a.ID, []*hookd.Endpoint{e})
		f.message(gone.ID, []*hookd.Endpoint{eg})
		f.now = f.now.Add(time.Second)
		c := f.claim(f.now, 10)
		if len(c) != 3 {
			t.Fatalf("claimed %d, want 3", len(c))
		}
		var results []hookd.AttemptResult
		failed := false
		for _, d := range c {
			status, code := hookd.StatusSuccess, 200
			if d.AppID == a.ID && !failed {
				status, code, failed = hookd.StatusFail, 500, true
			}
			results = append(results, f.result(d, status, code))
		}
		must(t, f.s.DeleteApp(f.ctx, gone.ID))
		must(t, f.s.RecordAttempts(f.ctx, results))
		must(t, f.s.RecordAttempts(f.ctx, results))
		for i := range results {
			must(t, f.s.RecordAttempts(f.ctx, results[i:i+1]))
		}
		// What the dispatcher does when a batch fails: each again, without the text.
		again := results[0]
		bare := *again.Attempt
		bare.Response, bare.Headers = "", nil
		again.Attempt = &bare
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{again}))

		minute := f.now.UTC().Truncate(time.Minute)
		got, err := f.s.AttemptCounts(f.ctx, minute.Add(-time.Hour), minute.Add(time.Hour))
		must(t, err)
		if len(got) != 1 || !got[0].Minute.Equal(minute) || got[0].Success != 1 || got[0].Fail != 1 {
			t.Fatalf("AttemptCounts = %+v, want one success and one failure in %v", got, minute)
		}
	}},
	{"MessageDestinations", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		e1, e2 := f.endpoint(a.ID), f.endpoint(a.ID)
		eB := f.endpoint(b.ID)
		before := f.tick()
		m1, _ := f.message(a.ID, []*hookd.Endpoint{e1, e2}) // two destinations
		f.message(a.ID, []*hookd.Endpoint{e1})              // one
		f.message(b.ID, []*hookd.Endpoint{eB})              // another application's
		f.tick()
		mid := f.tick()
		f.message(a.ID, []*hookd.Endpoint{e2}) // after mid
		end := f.tick()
		count := func(appID string, since, until time.Time) int64 {
			t.Helper()
			n, err := f.s.MessageDestinations(f.ctx, appID, hookd.IDAt(hookd.PrefixMessage, since), hookd.IDAt(hookd.PrefixMessage, until))
			must(t, err)
			return n
		}
		if n := count(a.ID, before, mid); n != 3 {
			t.Errorf("window before mid = %d, want 3", n)
		}
		if n := count(a.ID, before, end.Add(time.Millisecond)); n != 4 {
			t.Errorf("whole window = %d, want 4", n)
		}
		if n := count(a.ID, mid, end.Add(time.Millisecond)); n != 1 {
			t.Errorf("window after mid = %d, want 1", n)
		}
		if n := count(b.ID, before, end); n != 1 {
			t.Errorf("other application = %d, want 1", n)
		}
		if n := count(a.ID, m1.Timestamp.Add(time.Hour), m1.Timestamp.Add(2*time.Hour)); n != 0 {
			t.Errorf("empty window = %d, want 0", n)
		}
	}},
	{"QueueCounts", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		for range 3 {
			f.dueAt(a.ID, e, f.now)
		}
		ds := f.claim(t0.Add(time.Hour), 2) // two sending, one pending
		r := f.result(ds[0], hookd.StatusFail, 500)
		r.Status = hookd.StatusFail // exhausted
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		q, err := f.s.QueueCounts(f.ctx)
		must(t, err)
		if q.Queued != 2 || q.Failed != 1 {
			t.Fatalf("QueueCounts = %+v, want 2 queued, 1 failed", q)
		}
	}},
	{"TroubledEndpoints", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		f.endpoint(a.ID) // healthy
		at := t0
		disabled := f.endpoint(a.ID, func(e *hookd.Endpoint) { e.Disabled, e.DisabledAt = true, &at })
		failing := f.endpoint(b.ID)
		_, d := f.dueAt(b.ID, failing, f.now)
		ds := f.claim(t0.Add(time.Hour), 1)
		if len(ds) != 1 || ds[0].ID != d.ID {
			t.Fatalf("claimed %v, want %s", ids(ds, deliveryID), d.ID)
		}
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{f.result(ds[0], hookd.StatusFail, 500)}))
		got := pageAll(t, 1, true, func(p hookd.Page) ([]string, error) {
			eps, err := f.s.TroubledEndpoints(f.ctx, p)
			return ids(eps, endpointID), err
		})
		if want := []string{disabled.ID, failing.ID}; !equalStrings(got, want) {
			t.Fatalf("TroubledEndpoints = %v, want %v (disabled and failing, of every app)", got, want)
		}
	}},
	{"FailedDeliveries", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		ea, eb := f.endpoint(a.ID), f.endpoint(b.ID)
		f.dueAt(a.ID, ea, f.now)
		f.dueAt(b.ID, eb, f.now)
		f.dueAt(a.ID, ea, f.now.Add(time.Hour)) // stays pending
		ds := f.claim(t0.Add(time.Minute), 10)
		if len(ds) != 2 {
			t.Fatalf("claimed %d, want 2", len(ds))
		}
		var results []hookd.AttemptResult
		for _, d := range ds {
			r := f.result(d, hookd.StatusFail, 500)
			r.Status = hookd.StatusFail
			results = append(results, r)
		}
		must(t, f.s.RecordAttempts(f.ctx, results))
		want := []string{ds[0].ID, ds[1].ID}
		if ds[0].ID > ds[1].ID {
			want = []string{ds[1].ID, ds[0].ID}
		}
		all, err := f.s.FailedDeliveries(f.ctx, hookd.DeadLetterFilter{}, hookd.Page{Limit: 10, Ascending: true})
		must(t, err)
		if got := ids(all, deliveryID); !equalStrings(got, want) {
			t.Fatalf("FailedDeliveries = %v, want %v", got, want)
		}
		for _, d := range all {
			if d.Message == nil || d.Message.ID != d.MsgID {
				t.Fatalf("FailedDeliveries: delivery %s without its message", d.ID)
			}
		}
		got := pageAll(t, 1, false, func(p hookd.Page) ([]string, error) {
			ds, err := f.s.FailedDeliveries(f.ctx, hookd.DeadLetterFilter{}, p)
			return ids(ds, deliveryID), err
		})
		if !equalStrings(got, reversed(want)) {
			t.Fatalf("FailedDeliveries paged = %v, want %v", got, reversed(want))
		}
		onlyA, err := f.s.FailedDeliveries(f.ctx, hookd.DeadLetterFilter{AppID: a.ID, EndpointID: ea.ID, EventType: "invoice.paid"}, hookd.Page{Limit: 10})
		must(t, err)
		if len(onlyA) != 1 || onlyA[0].AppID != a.ID {
			t.Fatalf("FailedDeliveries of app A = %v, want one", ids(onlyA, deliveryID))
		}
		none, err := f.s.FailedDeliveries(f.ctx, hookd.DeadLetterFilter{AppID: a.ID, EventType: "other.type"}, hookd.Page{Limit: 10})
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("FailedDeliveries of another event type = %v, want none", ids(none, deliveryID))
		}
	}},
}

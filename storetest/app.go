package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var appTests = []test{
	{"CreateAndGetByIDOrUID", func(t *testing.T, f *fixture) {
		want := f.app(func(a *hookd.Application) {
			a.UID, a.Name, a.RateLimit = "customer-1", "Customer 1", 5
			a.Metadata = map[string]string{"plan": "pro"}
			a.RetrySchedule = "short"
			a.RequireHTTPS = true
		})
		for _, key := range []string{want.ID, want.UID} {
			got, err := f.s.App(f.ctx, key)
			must(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("App(%q) = %+v, want %+v", key, got, want)
			}
		}
	}},
	{"EmptyMapsAndUID", func(t *testing.T, f *fixture) {
		a := f.app()
		b := f.app() // a second application without UID is no conflict
		got, err := f.s.App(f.ctx, b.ID)
		must(t, err)
		if got.UID != "" || len(got.Metadata) != 0 {
			t.Errorf("App = %+v, want empty UID and metadata", got)
		}
		if _, err := f.s.App(f.ctx, ""); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("App(\"\") error = %v, want not found", err)
		}
		_ = a
	}},
	{"NotFound", func(t *testing.T, f *fixture) {
		_, err := f.s.App(f.ctx, "app_missing")
		wantCode(t, err, hookd.ENOTFOUND)
		if msg := hookd.ErrorMessage(err); msg != "application not found" {
			t.Errorf("message = %q, want %q", msg, "application not found")
		}
		wantCode(t, f.s.UpdateApp(f.ctx, &hookd.Application{ID: "app_missing", Name: "x"}), hookd.ENOTFOUND)
		wantCode(t, f.s.DeleteApp(f.ctx, "app_missing"), hookd.ENOTFOUND)
	}},
	{"UIDConflict", func(t *testing.T, f *fixture) {
		f.app(func(a *hookd.Application) { a.UID = "taken" })
		dup := &hookd.Application{ID: f.id(hookd.PrefixApp), UID: "taken", Name: "dup", CreatedAt: f.now, UpdatedAt: f.now}
		wantCode(t, f.s.CreateApp(f.ctx, dup), hookd.ECONFLICT)
		other := f.app(func(a *hookd.Application) { a.UID = "other" })
		other.UID = "taken"
		wantCode(t, f.s.UpdateApp(f.ctx, other), hookd.ECONFLICT)
		got, err := f.s.App(f.ctx, other.ID)
		must(t, err)
		if got.UID != "other" {
			t.Errorf("UID after failed update = %q, want %q", got.UID, "other")
		}
	}},
	{"Update", func(t *testing.T, f *fixture) {
		a := f.app(func(a *hookd.Application) {
			a.UID, a.Metadata, a.RateLimit = "u1", map[string]string{"a": "1"}, 3
		})
		upd := *a
		upd.UID, upd.Name, upd.RateLimit = "", "renamed", 0
		upd.Metadata = map[string]string{"b": "2"}
		upd.RetrySchedule = "5s,1m"
		upd.RequireHTTPS = !a.RequireHTTPS
		upd.UpdatedAt = a.UpdatedAt.Add(time.Hour)
		must(t, f.s.UpdateApp(f.ctx, &upd))
		got, err := f.s.App(f.ctx, a.ID)
		must(t, err)
		if !reflect.DeepEqual(got, &upd) {
			t.Errorf("after update App = %+v, want %+v", got, &upd)
		}
		if _, err := f.s.App(f.ctx, "u1"); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("old UID still finds the app: %v", err)
		}
	}},
	{"ListPagination", func(t *testing.T, f *fixture) {
		var want []string
		for range 5 {
			want = append(want, f.app().ID)
		}
		checkPaging(t, want, func(p hookd.Page) ([]string, error) {
			l, err := f.s.Apps(f.ctx, p)
			return ids(l, appID), err
		})
	}},
	{"DeleteCascades", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		epA, epB := f.endpoint(a.ID), f.endpoint(b.ID)
		mA, _ := f.message(a.ID, []*hookd.Endpoint{epA})
		mB, _ := f.message(b.ID, []*hookd.Endpoint{epB})
		f.now = f.now.Add(time.Second)
		claimed, err := f.s.ClaimDeliveries(f.ctx, f.now, time.Minute, 10)
		must(t, err)
		var results []hookd.AttemptResult
		for _, d := range claimed {
			results = append(results, f.result(d, hookd.StatusSuccess, 200))
		}
		must(t, f.s.RecordAttempts(f.ctx, results))

		must(t, f.s.DeleteApp(f.ctx, a.ID))
		if _, err := f.s.App(f.ctx, a.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("App after delete: %v", err)
		}
		if _, err := f.s.Endpoint(f.ctx, a.ID, epA.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("Endpoint after app delete: %v", err)
		}
		if _, err := f.s.Message(f.ctx, a.ID, mA.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("Message after app delete: %v", err)
		}
		atts, err := f.s.AttemptsByMessage(f.ctx, a.ID, mA.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(atts) != 0 {
			t.Errorf("attempts after app delete: %d", len(atts))
		}
		counts, err := f.s.DeliveryCounts(f.ctx)
		must(t, err)
		if counts != (hookd.EndpointStats{Success: 1}) {
			t.Errorf("DeliveryCounts after app delete = %+v, want only app B's success", counts)
		}
		// The other application is untouched.
		if _, err := f.s.Message(f.ctx, b.ID, mB.ID); err != nil {
			t.Errorf("other app's message: %v", err)
		}
		atts, err = f.s.AttemptsByMessage(f.ctx, b.ID, mB.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(atts) != 1 {
			t.Errorf("other app's attempts = %d, want 1", len(atts))
		}
	}},
}

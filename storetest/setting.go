package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var idempotencyTests = []test{
	{"ClaimThenSave", func(t *testing.T, f *fixture) {
		prev, err := f.s.ClaimIdempotencyKey(f.ctx, "c1", t0, time.Minute)
		must(t, err)
		if prev != nil {
			t.Fatalf("first claim returned a response: %+v", prev)
		}
		_, err = f.s.IdempotentResponse(f.ctx, "c1")
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = f.s.ClaimIdempotencyKey(f.ctx, "c1", t0.Add(time.Second), time.Minute)
		wantCode(t, err, hookd.EIDEMPOTENTBUSY)
		r := &hookd.IdempotentResponse{Key: "c1", StatusCode: 201, ContentType: "application/json",
			Body: []byte(`{"id":"app_1"}`), CreatedAt: t0.Add(2 * time.Second)}
		got, err := f.s.SaveIdempotentResponse(f.ctx, r)
		must(t, err)
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("save over a claim returned %+v, want %+v", got, r)
		}
		prev, err = f.s.ClaimIdempotencyKey(f.ctx, "c1", t0.Add(time.Hour), time.Minute)
		must(t, err)
		if !reflect.DeepEqual(prev, r) {
			t.Fatalf("claim of an answered key returned %+v, want the stored response", prev)
		}
		must(t, f.s.ReleaseIdempotencyKey(f.ctx, "c1"))
		got, err = f.s.IdempotentResponse(f.ctx, "c1")
		must(t, err)
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("release removed a stored response: %+v", got)
		}
	}},
	{"ReleaseFreesKey", func(t *testing.T, f *fixture) {
		_, err := f.s.ClaimIdempotencyKey(f.ctx, "c2", t0, time.Minute)
		must(t, err)
		must(t, f.s.ReleaseIdempotencyKey(f.ctx, "c2"))
		prev, err := f.s.ClaimIdempotencyKey(f.ctx, "c2", t0.Add(time.Second), time.Minute)
		must(t, err)
		if prev != nil {
			t.Fatalf("claim after release returned %+v", prev)
		}
	}},
	{"StaleClaimTakenOver", func(t *testing.T, f *fixture) {
		_, err := f.s.ClaimIdempotencyKey(f.ctx, "c3", t0, time.Minute)
		must(t, err)
		_, err = f.s.ClaimIdempotencyKey(f.ctx, "c3", t0.Add(59*time.Second), time.Minute)
		wantCode(t, err, hookd.EIDEMPOTENTBUSY)
		prev, err := f.s.ClaimIdempotencyKey(f.ctx, "c3", t0.Add(2*time.Minute), time.Minute)
		must(t, err)
		if prev != nil {
			t.Fatalf("takeover returned %+v", prev)
		}
		_, err = f.s.ClaimIdempotencyKey(f.ctx, "c3", t0.Add(2*time.Minute+time.Second), time.Minute)
		wantCode(t, err, hookd.EIDEMPOTENTBUSY)
	}},
	{"ConcurrentClaimsOneWins", func(t *testing.T, f *fixture) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, busy := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prev, err := f.s.ClaimIdempotencyKey(f.ctx, "c4", t0, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && prev == nil:
					won++
				case hookd.ErrorCode(err) == hookd.EIDEMPOTENTBUSY:
					busy++
				default:
					t.Errorf("claim: %+v, %v", prev, err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || busy != 7 {
			t.Fatalf("%d claims won and %d were busy; want 1 and 7", won, busy)
		}
	}},
	{"SaveOnce", func(t *testing.T, f *fixture) {
		_, err := f.s.IdempotentResponse(f.ctx, "k1")
		wantCode(t, err, hookd.ENOTFOUND)
		first := &hookd.IdempotentResponse{Key: "k1", StatusCode: 202, ContentType: "application/json",
			Body: []byte(`{"id":"msg_1"}`), CreatedAt: t0}
		got, err := f.s.SaveIdempotentResponse(f.ctx, first)
		must(t, err)
		if !reflect.DeepEqual(got, first) {
			t.Errorf("first save returned %+v", got)
		}
		second := &hookd.IdempotentResponse{Key: "k1", StatusCode: 500, ContentType: "text/plain",
			Body: []byte("other"), CreatedAt: t0.Add(time.Minute)}
		got, err = f.s.SaveIdempotentResponse(f.ctx, second)
		must(t, err)
		if !reflect.DeepEqual(got, first) {
			t.Errorf("second save returned %+v, want the first response", got)
		}
		got, err = f.s.IdempotentResponse(f.ctx, "k1")
		must(t, err)
		if !reflect.DeepEqual(got, first) {
			t.Errorf("IdempotentResponse = %+v, want %+v", got, first)
		}
	}},
	{"EmptyBody", func(t *testing.T, f *fixture) {
		r := &hookd.IdempotentResponse{Key: "k", StatusCode: 204, Body: []byte{}, CreatedAt: t0}
		_, err := f.s.SaveIdempotentResponse(f.ctx, r)
		must(t, err)
		got, err := f.s.IdempotentResponse(f.ctx, "k")
		must(t, err)
		if got.StatusCode != 204 || len(got.Body) != 0 {
			t.Errorf("got %+v", got)
		}
	}},
	{"ConcurrentSaveAgrees", func(t *testing.T, f *fixture) {
		var wg sync.WaitGroup
		results := make([]*hookd.IdempotentResponse, 8)
		errs := make([]error, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &hookd.IdempotentResponse{Key: "race", StatusCode: 200 + i, Body: []byte{byte('a' + i)}, CreatedAt: t0}
				results[i], errs[i] = f.s.SaveIdempotentResponse(f.ctx, r)
			}()
		}
		wg.Wait()
		for i := range results {
			must(t, errs[i])
			if !reflect.DeepEqual(results[i], results[0]) {
				t.Errorf("save %d returned %+v, save 0 %+v", i, results[i], results[0])
			}
		}
	}},
	{"DeleteBefore", func(t *testing.T, f *fixture) {
		for i, key := range []string{"old", "edge", "new"} {
			_, err := f.s.SaveIdempotentResponse(f.ctx, &hookd.IdempotentResponse{
				Key: key, StatusCode: 200, Body: []byte("x"), CreatedAt: t0.Add(time.Duration(i) * time.Hour)})
			must(t, err)
		}
		must(t, f.s.DeleteIdempotentResponses(f.ctx, t0.Add(time.Hour)))
		_, err := f.s.IdempotentResponse(f.ctx, "old")
		wantCode(t, err, hookd.ENOTFOUND)
		for _, key := range []string{"edge", "new"} {
			if _, err := f.s.IdempotentResponse(f.ctx, key); err != nil {
				t.Errorf("%s: %v (created at or after the cut-off must stay)", key, err)
			}
		}
	}},
}

var settingTests = []test{
	{"PutAndGet", func(t *testing.T, f *fixture) {
		_, err := f.s.Setting(f.ctx, "admin_token_hash")
		wantCode(t, err, hookd.ENOTFOUND)
		must(t, f.s.PutSetting(f.ctx, "admin_token_hash", "v1"))
		must(t, f.s.PutSetting(f.ctx, "admin_token_hash", "v2"))
		got, err := f.s.Setting(f.ctx, "admin_token_hash")
		must(t, err)
		if got != "v2" {
			t.Errorf("Setting = %q, want v2", got)
		}
	}},
	{"PutIfAbsent", func(t *testing.T, f *fixture) {
		got, err := f.s.PutSettingIfAbsent(f.ctx, "key", "first")
		must(t, err)
		if got != "first" {
			t.Errorf("PutSettingIfAbsent on a new name = %q, want first", got)
		}
		got, err = f.s.PutSettingIfAbsent(f.ctx, "key", "second")
		must(t, err)
		if got != "first" {
			t.Errorf("PutSettingIfAbsent on a set name = %q, want first", got)
		}
		if v, err := f.s.Setting(f.ctx, "key"); err != nil || v != "first" {
			t.Errorf("Setting = %q, %v", v, err)
		}
	}},
	{"PutIfAbsentConcurrent", func(t *testing.T, f *fixture) {
		var wg sync.WaitGroup
		got := make([]string, 8)
		errs := make([]error, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = f.s.PutSettingIfAbsent(f.ctx, "node", string(rune('a'+i)))
			}()
		}
		wg.Wait()
		for i := range got {
			must(t, errs[i])
			if got[i] != got[0] {
				t.Errorf("nodes disagree: %q and %q", got[i], got[0])
			}
		}
	}},
}

var storeTests = []test{
	{"Ping", func(t *testing.T, f *fixture) {
		must(t, f.s.Ping(f.ctx))
	}},
	{"WakeAfterCreateMessage", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		drain(f.s.Wake())
		f.message(a.ID, []*hookd.Endpoint{e})
		waitWake(t, f.s.Wake())
	}},
	{"WakeAfterResendAndRecover", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e})
		f.now = f.now.Add(time.Second)
		d := f.claim(f.now, 1)[0]
		r := f.result(d, hookd.StatusFail, 500)
		r.Status = hookd.StatusFail
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		drain(f.s.Wake())
		n, err := f.s.RecoverDeliveries(f.ctx, a.ID, e.ID, t0, time.Time{}, f.now)
		must(t, err)
		if n != 1 {
			t.Fatalf("recovered %d, want 1", n)
		}
		waitWake(t, f.s.Wake())
		must(t, f.s.ResendDelivery(f.ctx, f.id(hookd.PrefixDelivery), a.ID, m.ID, e.ID, f.now))
		waitWake(t, f.s.Wake())
	}},
}

// drain empties a wake channel.
func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// waitWake fails unless c is signalled. A store may deliver the signal after the
// write returns (PostgreSQL's NOTIFY comes back through the connection), so this waits
// — but a correct store passes at once; the bound only stops a broken one.
func waitWake(t *testing.T, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("Wake not signalled")
	}
}

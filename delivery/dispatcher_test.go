package delivery_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

func TestRetriesUntilSuccess(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("not yet"))
			return
		}
		w.Write([]byte(`{"ok":true}`))
	})
	ep := e.endpoint(rc.URL)
	t0 := e.clock.Now()
	msg := e.send("invoice.paid", nil, `{"amount":42}`)

	e.waitAttempts(msg.ID, 1)
	dl := e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
	if want := t0.Add(5 * time.Second); !dl.NextAttempt.Equal(want) {
		t.Fatalf("after the first failure NextAttempt = %v, want %v (default schedule: 5 s)", dl.NextAttempt, want)
	}
	// Not due yet: nothing happens however often the dispatcher looks.
	e.advance(4 * time.Second)
	e.d.Nudge()
	if got := len(e.attempts(msg.ID)); got != 1 {
		t.Fatalf("attempts before the retry is due = %d, want 1", got)
	}
	e.advance(time.Second)
	e.waitAttempts(msg.ID, 2)
	dl = e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
	if want := t0.Add(5*time.Second + 5*time.Minute); !dl.NextAttempt.Equal(want) {
		t.Fatalf("after the second failure NextAttempt = %v, want %v (5 min later)", dl.NextAttempt, want)
	}
	e.advance(5 * time.Minute)
	as := e.waitAttempts(msg.ID, 3)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)

	wantCodes := []int{500, 500, 200}
	wantAt := []time.Time{t0, t0.Add(5 * time.Second), t0.Add(5*time.Second + 5*time.Minute)}
	for i, a := range as {
		if a.ResponseStatusCode != wantCodes[i] || !a.Timestamp.Equal(wantAt[i]) || a.Trigger != hookd.TriggerScheduled {
			t.Errorf("attempt %d: code %d at %v trigger %v, want %d at %v scheduled", i+1, a.ResponseStatusCode, a.Timestamp, a.Trigger, wantCodes[i], wantAt[i])
		}
	}
	if as[0].Status != hookd.StatusFail || as[0].Response != "not yet" || as[2].Status != hookd.StatusSuccess {
		t.Errorf("attempt log: %+v, %+v", as[0], as[2])
	}
	// The requests were signed at different times; check the signatures only.
	v := sigVerifier(t, testSecret)
	for i, r := range rc.requests() {
		if err := v.Verify(r.header, r.body); err != nil {
			t.Errorf("request %d: signature does not verify: %v", i+1, err)
		}
		if got := r.header.Get("Webhook-Id"); got != msg.ID {
			t.Errorf("request %d: webhook-id %q, want %q", i+1, got, msg.ID)
		}
		if string(r.body) != `{"amount":42}` {
			t.Errorf("request %d: body %s", i+1, r.body)
		}
	}
}

func TestRetrySchedules(t *testing.T) {
	tests := []struct {
		name     string
		app, typ string // app and event type overrides
		ep       string // endpoint override
		server   string
		delays   []time.Duration // the waits between attempts until the delivery fails
	}{
		{name: "server schedule", server: "2s,3s", delays: []time.Duration{2 * time.Second, 3 * time.Second}},
		{name: "application overrides server", server: "2s,3s", app: "7s", delays: []time.Duration{7 * time.Second}},
		{name: "event type overrides application", app: "7s", typ: "4s,4s", delays: []time.Duration{4 * time.Second, 4 * time.Second}},
		{name: "endpoint overrides all", app: "7s", typ: "4s", ep: "none"},
		{name: "short preset", ep: "short", delays: []time.Duration{time.Minute, time.Minute, 3 * time.Minute, 5 * time.Minute, 50 * time.Minute, 120 * time.Minute}},
		{name: "exponential", ep: "exponential:1s,3s,3", delays: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *delivery.Config) {
				if tt.server != "" {
					s, err := hookd.ParseRetrySchedule(tt.server)
					if err != nil {
						t.Fatal(err)
					}
					c.RetrySchedule = s
				}
				// Exponential jitter with 0.5 gives 3/4 of the delay; use 1 - ε for
				// the full delay (to the nanosecond).
				c.RandFunc = func() float64 { return 0.5 }
			})
			ctx := context.Background()
			if tt.app != "" {
				e.app.RetrySchedule = tt.app
				if err := e.store.UpdateApp(ctx, e.app); err != nil {
					t.Fatal(err)
				}
			}
			if tt.typ != "" {
				if err := e.store.CreateEventType(ctx, &hookd.EventType{Name: "order.created", RetrySchedule: tt.typ, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			rc := newReceiver(t, status(http.StatusBadGateway))
			ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = tt.ep })
			msg := e.send("order.created", nil, `{}`)
			at := e.clock.Now()
			for i, delay := range tt.delays {
				e.waitAttempts(msg.ID, i+1)
				dl := e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
				want := delay
				if strings.HasPrefix(tt.ep, "exponential") {
					want = delay/2 + delay/4 // equal jitter at 0.5
				}
				if got := dl.NextAttempt.Sub(at); got != want {
					t.Fatalf("after attempt %d the delivery waits %v, want %v", i+1, got, want)
				}
				e.advance(want)
				at = at.Add(want)
			}
			as := e.waitAttempts(msg.ID, len(tt.delays)+1)
			e.waitDelivery(msg.ID, ep.ID, hookd.StatusFail)
			if len(as) != len(tt.delays)+1 {
				t.Fatalf("%d attempts, want %d", len(as), len(tt.delays)+1)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		header func(now time.Time) string
		want   time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func(time.Time) string { return "120" }, 120 * time.Second},
		{"503 HTTP date", http.StatusServiceUnavailable, func(now time.Time) string { return now.Add(10 * time.Minute).Format(http.TimeFormat) }, 10 * time.Minute},
		{"clamped to an hour", http.StatusTooManyRequests, func(time.Time) string { return "86400" }, time.Hour},
		{"clamped to a second", http.StatusTooManyRequests, func(time.Time) string { return "0" }, time.Second},
		{"ignored on 500", http.StatusInternalServerError, func(time.Time) string { return "120" }, 5 * time.Second},
		{"malformed ignored", http.StatusTooManyRequests, func(time.Time) string { return "soon" }, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", tt.header(e.clock.Now()))
				w.WriteHeader(tt.code)
			})
			ep := e.endpoint(rc.URL)
			msg := e.send("a", nil, `{}`)
			e.waitAttempts(msg.ID, 1)
			dl := e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
			if got := dl.NextAttempt.Sub(e.clock.Now()); got != tt.want {
				t.Fatalf("next attempt in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	t.Run("abort header stops retries", func(t *testing.T) {
		e := newEnv(t)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Webhook-Abort-Retries", "true")
			w.WriteHeader(http.StatusBadRequest)
		})
		ep := e.endpoint(rc.URL)
		msg := e.send("a", nil, `{}`)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusFail)
		if n := len(e.attempts(msg.ID)); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
	t.Run("redirect is a failure and not followed", func(t *testing.T) {
		e := newEnv(t)
		target := newReceiver(t, status(http.StatusOK))
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		})
		ep := e.endpoint(rc.URL)
		msg := e.send("a", nil, `{}`)
		as := e.waitAttempts(msg.ID, 1)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
		if as[0].ResponseStatusCode != http.StatusFound || as[0].Status != hookd.StatusFail {
			t.Fatalf("attempt: code %d status %v, want 302 fail", as[0].ResponseStatusCode, as[0].Status)
		}
		if n := len(target.requests()); n != 0 {
			t.Fatalf("redirect target got %d requests, want 0", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t)
		release := make(chan struct{})
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.Timeout = 100 * time.Millisecond })
		msg := e.send("a", nil, `{}`)
		as := e.waitAttempts(msg.ID, 1)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
		if as[0].ResponseStatusCode != 0 || !strings.Contains(as[0].Error, "timeout") {
			t.Fatalf("attempt: code %d error %q, want 0 and a timeout", as[0].ResponseStatusCode, as[0].Error)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		e := newEnv(t)
		rc := newReceiver(t, nil)
		url := rc.URL
		rc.Close()
		ep := e.endpoint(url)
		msg := e.send("a", nil, `{}`)
		as := e.waitAttempts(msg.ID, 1)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
		if !strings.Contains(as[0].Error, "connection refused") {
			t.Fatalf("attempt error %q, want connection refused", as[0].Error)
		}
	})
	t.Run("response body truncated", func(t *testing.T) {
		e := newEnv(t, func(c *delivery.Config) { c.MaxResponseBytes = 10 })
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(strings.Repeat("x", 100000)))
		})
		ep := e.endpoint(rc.URL)
		msg := e.send("a", nil, `{}`)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
		if as := e.attempts(msg.ID); as[0].Response != "xxxxxxxxxx" {
			t.Fatalf("stored response %q, want 10 bytes", as[0].Response)
		}
	})
}

func TestRequest(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusNoContent))
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) {
		ep.Headers = map[string]string{"X-Tenant": "acme", "Authorization": "Bearer abc"}
	})
	msg := e.send("a", nil, `{"k":"v"}`)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	r := rc.requests()[0]
	for k, want := range map[string]string{
		"X-Tenant": "acme", "Authorization": "Bearer abc", "Content-Type": "application/json",
		"Webhook-Id": msg.ID, "Webhook-Timestamp": "1740830400",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if ua := r.header.Get("User-Agent"); !strings.Contains(ua, "hookd") {
		t.Errorf("user-agent %q does not name hookd", ua)
	}
}

func TestSvixHeaders(t *testing.T) {
	e := newEnv(t, func(c *delivery.Config) { c.SvixHeaders = true })
	rc := newReceiver(t, status(http.StatusOK))
	ep := e.endpoint(rc.URL)
	msg := e.send("a", nil, `{}`)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	r := rc.requests()[0]
	if r.header.Get("Svix-Id") != msg.ID || r.header.Get("Svix-Signature") == "" || r.header.Get("Webhook-Id") != "" {
		t.Fatalf("headers %v, want svix-* names only", r.header)
	}
}

func TestRotationSignsWithBothKeys(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, status(http.StatusOK))
	expires := e.clock.Now().Add(24 * time.Hour)
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) {
		ep.Secrets = []hookd.Secret{{Key: otherSecret}, {Key: testSecret, ExpiresAt: &expires}}
	})
	msg := e.send("a", nil, `{}`)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	r := rc.requests()[0]
	if sigs := strings.Fields(r.header.Get("Webhook-Signature")); len(sigs) != 2 {
		t.Fatalf("signature header %q, want two signatures", r.header.Get("Webhook-Signature"))
	}
	for name, secret := range map[string]string{"new": otherSecret, "old": testSecret} {
		if err := verifier(t, e.clock, secret).Verify(r.header, r.body); err != nil {
			t.Errorf("%s secret alone does not verify: %v", name, err)
		}
	}

	// After the grace period only the new key signs.
	e.advance(24*time.Hour + time.Second)
	msg = e.send("a", nil, `{}`)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	r = rc.requests()[1]
	if sigs := strings.Fields(r.header.Get("Webhook-Signature")); len(sigs) != 1 {
		t.Fatalf("after the grace period: signature header %q, want one signature", r.header.Get("Webhook-Signature"))
	}
	if err := verifier(t, e.clock, testSecret).Verify(r.header, r.body); err == nil {
		t.Error("the expired secret still verifies")
	}
	if err := verifier(t, e.clock, otherSecret).Verify(r.header, r.body); err != nil {
		t.Errorf("new secret: %v", err)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	all := newReceiver(t, status(http.StatusOK))
	invoices := newReceiver(t, status(http.StatusOK))
	eu := newReceiver(t, status(http.StatusOK))
	disabled := newReceiver(t, status(http.StatusOK))
	e.endpoint(all.URL)
	e.endpoint(invoices.URL, func(ep *hookd.Endpoint) { ep.FilterTypes = []string{"invoice.paid", "invoice.voided"} })
	e.endpoint(eu.URL, func(ep *hookd.Endpoint) { ep.Channels = []string{"eu"} })
	e.endpoint(disabled.URL, func(ep *hookd.Endpoint) { ep.Disabled = true })

	msgs := []*hookd.Message{
		e.send("invoice.paid", nil, `{"n":1}`),
		e.send("user.created", []string{"eu", "x"}, `{"n":2}`),
		e.send("invoice.voided", []string{"us"}, `{"n":3}`),
	}
	want := map[*receiver][]string{
		all:      {msgs[0].ID, msgs[1].ID, msgs[2].ID},
		invoices: {msgs[0].ID, msgs[2].ID},
		eu:       {msgs[1].ID},
		disabled: nil,
	}
	eventually(t, func() bool {
		return len(all.requests()) == 3 && len(invoices.requests()) == 2 && len(eu.requests()) == 1
	}, "all deliveries")
	for rc, ids := range want {
		var got []string
		for _, r := range rc.requests() {
			got = append(got, r.header.Get("Webhook-Id"))
		}
		if strings.Join(sorted(got), ",") != strings.Join(sorted(ids), ",") {
			t.Errorf("receiver got %v, want %v", got, ids)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

package delivery_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// opsEvent is an operational webhook as received.
type opsEvent struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

// withOps points operational webhooks at a new receiver.
func withOps(t *testing.T) (*receiver, func(*delivery.Config)) {
	ops := newReceiver(t, status(http.StatusOK))
	return ops, func(c *delivery.Config) {
		c.OperationalWebhookURL = ops.URL
		c.OperationalWebhookSecret = otherSecret
	}
}

// waitEvent waits for an operational event of the given type, checks its
// signature and returns it.
func waitEvent(t *testing.T, e *env, ops *receiver, typ string) opsEvent {
	t.Helper()
	var found *opsEvent
	eventually(t, func() bool {
		for _, r := range ops.requests() {
			var ev opsEvent
			if err := json.Unmarshal(r.body, &ev); err != nil {
				t.Fatalf("operational webhook body %s: %v", r.body, err)
			}
			if ev.Type == typ {
				if err := sigVerifier(t, otherSecret).Verify(r.header, r.body); err != nil {
					t.Fatalf("operational webhook signature: %v", err)
				}
				found = &ev
				return true
			}
		}
		return false
	}, "operational event %s", typ)
	return *found
}

func TestAutoDisable(t *testing.T) {
	ops, opt := withOps(t)
	e := newEnv(t, opt, func(c *delivery.Config) { c.DisableAfter = time.Hour })
	rc := newReceiver(t, status(http.StatusInternalServerError))
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = "20m,20m,20m,20m,20m" })
	t0 := e.clock.Now()
	msg := e.send("a", nil, `{}`)
	for i := 1; i <= 3; i++ {
		e.waitAttempts(msg.ID, i)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
		got, err := e.store.Endpoint(context.Background(), e.app.ID, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Disabled {
			t.Fatalf("endpoint disabled after %d attempts over %v, want it enabled for an hour", i, e.clock.Now().Sub(t0))
		}
		e.advance(20 * time.Minute)
	}
	// The fourth failure, at t0+60m, has been failing for DisableAfter.
	var got *hookd.Endpoint
	eventually(t, func() bool {
		var err error
		got, err = e.store.Endpoint(context.Background(), e.app.ID, ep.ID)
		return err == nil && got.Disabled
	}, "endpoint disabled")
	if got.DisabledAt == nil {
		t.Error("DisabledAt not set")
	}
	ev := waitEvent(t, e, ops, "endpoint.disabled")
	if ev.Data["endpointId"] != ep.ID || ev.Data["appId"] != e.app.ID || ev.Data["appUid"] != "acme" {
		t.Errorf("endpoint.disabled data %v", ev.Data)
	}
	if fs, _ := time.Parse(time.RFC3339, ev.Data["failSince"].(string)); !fs.Equal(t0) {
		t.Errorf("failSince %v, want %v", ev.Data["failSince"], t0)
	}
	failing := waitEvent(t, e, ops, "message.attempt.failing")
	if failing.Data["msgId"] != msg.ID {
		t.Errorf("message.attempt.failing data %v", failing.Data)
	}

	// A disabled endpoint is not sent to; the pending retry fails with a reason.
	before := len(rc.requests())
	e.advance(20 * time.Minute)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusFail)
	if n := len(rc.requests()); n != before {
		t.Errorf("%d requests to the disabled endpoint", n-before)
	}
}

func TestSuccessResetsHealth(t *testing.T) {
	e := newEnv(t, func(c *delivery.Config) { c.DisableAfter = time.Hour })
	ok := make(chan bool, 10)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Webhook-Id") == "" || len(ok) == 0 || !<-ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = "40m,40m" })
	ok <- false
	m1 := e.send("a", nil, `{}`)
	e.waitAttempts(m1.ID, 1)
	e.advance(40 * time.Minute)
	ok <- true
	e.waitDelivery(m1.ID, ep.ID, hookd.StatusSuccess)
	ok <- false
	m2 := e.send("a", nil, `{}`)
	e.waitAttempts(m2.ID, 1)
	e.advance(40 * time.Minute)
	ok <- false
	e.waitAttempts(m2.ID, 2)
	// 80 minutes since the first failure, 40 since the success: still enabled.
	e.waitDelivery(m2.ID, ep.ID, hookd.StatusPending)
	got, err := e.store.Endpoint(context.Background(), e.app.ID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Disabled {
		t.Fatal("endpoint disabled although a success reset its failures")
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	ops, opt := withOps(t)
	e := newEnv(t, opt)
	rc := newReceiver(t, status(http.StatusGone))
	ep := e.endpoint(rc.URL)
	msg := e.send("a", nil, `{}`)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusFail)
	eventually(t, func() bool {
		got, err := e.store.Endpoint(context.Background(), e.app.ID, ep.ID)
		return err == nil && got.Disabled
	}, "endpoint disabled after 410")
	ev := waitEvent(t, e, ops, "endpoint.disabled")
	if ev.Data["endpointId"] != ep.ID {
		t.Errorf("endpoint.disabled data %v", ev.Data)
	}
	if n := len(e.attempts(msg.ID)); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestAttemptEvents(t *testing.T) {
	t.Run("exhausted", func(t *testing.T) {
		ops, opt := withOps(t)
		e := newEnv(t, opt)
		rc := newReceiver(t, status(http.StatusBadRequest))
		ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = "1s" })
		msg := e.send("a", nil, `{}`)
		e.waitAttempts(msg.ID, 1)
		e.advance(time.Second)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusFail)
		ev := waitEvent(t, e, ops, "message.attempt.exhausted")
		last, _ := ev.Data["lastAttempt"].(map[string]any)
		if ev.Data["msgId"] != msg.ID || ev.Data["endpointId"] != ep.ID || last["responseStatusCode"] != float64(400) {
			t.Errorf("message.attempt.exhausted data %v", ev.Data)
		}
	})
	t.Run("recovered", func(t *testing.T) {
		ops, opt := withOps(t)
		e := newEnv(t, opt, func(c *delivery.Config) { c.FailingAfter = 2 })
		rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = "1s,1s,1s" })
		msg := e.send("a", nil, `{}`)
		e.waitAttempts(msg.ID, 1)
		e.advance(time.Second)
		e.waitAttempts(msg.ID, 2)
		waitEvent(t, e, ops, "message.attempt.failing")
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
		e.advance(time.Second)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
		ev := waitEvent(t, e, ops, "message.attempt.recovered")
		if ev.Data["msgId"] != msg.ID {
			t.Errorf("message.attempt.recovered data %v", ev.Data)
		}
	})
	t.Run("emit", func(t *testing.T) {
		ops, opt := withOps(t)
		e := newEnv(t, opt)
		if err := e.d.Emit(context.Background(), "endpoint.created", map[string]string{"appId": "app_x", "endpointId": "ep_y"}); err != nil {
			t.Fatal(err)
		}
		ev := waitEvent(t, e, ops, "endpoint.created")
		if ev.Data["endpointId"] != "ep_y" {
			t.Errorf("data %v", ev.Data)
		}
	})
}

func TestResendAndRecover(t *testing.T) {
	e := newEnv(t)
	up := make(chan struct{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		select {
		case <-up:
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.RetrySchedule = "none" })
	t0 := e.clock.Now()
	var msgs []*hookd.Message
	// Attempt IDs sort by time: move the clock between steps so the log's order is
	// the order of events.
	for range 3 {
		e.advance(time.Second)
		m := e.send("a", nil, `{}`)
		e.waitDelivery(m.ID, ep.ID, hookd.StatusFail)
		msgs = append(msgs, m)
	}

	ctx := context.Background()
	t.Run("manual failure fails without a schedule", func(t *testing.T) {
		e.advance(time.Second)
		if err := e.store.ResendDelivery(ctx, hookd.IDGen{}.New(hookd.PrefixDelivery), e.app.ID, msgs[0].ID, ep.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		as := e.waitAttempts(msgs[0].ID, 2)
		e.waitDelivery(msgs[0].ID, ep.ID, hookd.StatusFail)
		if as[1].Trigger != hookd.TriggerManual {
			t.Errorf("resend attempt trigger %v, want manual", as[1].Trigger)
		}
	})
	close(up)
	t.Run("resend", func(t *testing.T) {
		// However many attempts the subtests before this one made (it also runs alone).
		before := len(e.waitAttempts(msgs[0].ID, 1))
		e.advance(time.Second)
		if err := e.store.ResendDelivery(ctx, hookd.IDGen{}.New(hookd.PrefixDelivery), e.app.ID, msgs[0].ID, ep.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		as := e.waitAttempts(msgs[0].ID, before+1)
		e.waitDelivery(msgs[0].ID, ep.ID, hookd.StatusSuccess)
		if last := as[len(as)-1]; last.Trigger != hookd.TriggerManual || last.Status != hookd.StatusSuccess {
			t.Errorf("resend attempt %+v, want a manual success", last)
		}
	})
	t.Run("recover", func(t *testing.T) {
		// The failed ones: all three when it runs alone, two after "resend".
		failed := 0
		for _, m := range msgs {
			if e.delivery(m.ID, ep.ID).Status == hookd.StatusFail {
				failed++
			}
		}
		e.advance(time.Second)
		n, err := e.store.RecoverDeliveries(ctx, e.app.ID, ep.ID, t0, time.Time{}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n != failed || n < 2 {
			t.Fatalf("recovered %d deliveries, want the %d failed ones", n, failed)
		}
		for _, m := range msgs[1:] {
			e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
			as := e.attempts(m.ID)
			if last := as[len(as)-1]; last.Trigger != hookd.TriggerManual {
				t.Errorf("recover attempt trigger %v, want manual", last.Trigger)
			}
		}
	})
}

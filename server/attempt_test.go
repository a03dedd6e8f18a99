package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/server"
	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
)

// TestRecoverAndResend drives a delivery that fails, is recovered, and is then resent,
// all through the SDK, and checks what each step leaves in the attempt log, the
// destinations and the endpoint stats.
func TestRecoverAndResend(t *testing.T) {
	none, err := hookd.ParseRetrySchedule("none")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) { c.RetrySchedule = none })
	ctx := context.Background()
	c := ts.client

	// history is one application's endpoint and message; each subtest makes its own
	// and takes it through the steps before the one it checks.
	type history struct {
		app      *models.ApplicationOut
		ep       *models.EndpointOut
		msg      *models.MessageOut
		failing  atomic.Bool
		received atomic.Int32
	}
	newHistory := func(t *testing.T) *history {
		h := &history{}
		h.failing.Store(true)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			h.received.Add(1)
			if h.failing.Load() {
				http.Error(w, "down", http.StatusInternalServerError)
			}
		}))
		t.Cleanup(rcv.Close)
		h.app, h.ep = appWithEndpoint(t, c, rcv.URL+"/hook")
		msg, err := c.Message.Create(ctx, h.app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]interface{}{"n": 1.0}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.msg = msg
		return h
	}
	// waitAttempts waits until the message has n attempts and the endpoint has no
	// pending delivery, and returns the attempts, newest first.
	waitAttempts := func(t *testing.T, h *history, n int) []svix.MessageAttemptOut {
		t.Helper()
		var out []svix.MessageAttemptOut
		waitFor(t, fmt.Sprintf("the message's %d attempts", n), func() bool {
			list, err := c.MessageAttempt.ListByMsg(ctx, h.app.Id, h.msg.Id, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Endpoint.GetStats(ctx, h.app.Id, h.ep.Id, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = list.Data
			return len(list.Data) == n && st.Pending == 0 && st.Sending == 0
		})
		return out
	}
	// The steps: the first attempt fails, a recover succeeds, a resend succeeds.
	failed := func(t *testing.T) (*history, svix.MessageAttemptOut) {
		t.Helper()
		h := newHistory(t)
		return h, waitAttempts(t, h, 1)[0]
	}
	recovered := func(t *testing.T) (*history, svix.MessageAttemptOut) {
		t.Helper()
		h, _ := failed(t)
		h.failing.Store(false)
		rec, err := c.Endpoint.Recover(ctx, h.app.Id, h.ep.Id, svix.RecoverIn{Since: time.Now().Add(-time.Hour)}, nil)
		if err != nil || rec.Task != "endpoint.recover" {
			t.Fatalf("recover = %+v, %v", rec, err)
		}
		return h, waitAttempts(t, h, 2)[0]
	}
	resent := func(t *testing.T) (*history, svix.MessageAttemptOut) {
		t.Helper()
		h, _ := recovered(t)
		if err := resend(c, ctx, h.app.Id, h.msg.Id, h.ep.Id); err != nil {
			t.Fatalf("resend: %v", err)
		}
		return h, waitAttempts(t, h, 3)[0]
	}

	t.Run("failed", func(t *testing.T) {
		h, at := failed(t)
		app, ep, msg := h.app, h.ep, h.msg
		if at.Status != svix.MessageStatus(2) || at.StatusText != models.MESSAGESTATUSTEXT_FAIL || at.ResponseStatusCode != 500 || at.TriggerType != 0 || at.EndpointId != ep.Id {
			t.Fatalf("failed attempt = %+v", at)
		}
		got, err := c.MessageAttempt.Get(ctx, app.Id, msg.Id, at.Id, nil)
		if err != nil || got.Id != at.Id || got.Status != at.Status {
			t.Fatalf("get attempt = %+v, %v", got, err)
		}
		failed, err := c.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, &svix.MessageAttemptListByEndpointOptions{Status: ptr(svix.MessageStatus(2))})
		if err != nil || len(failed.Data) != 1 {
			t.Fatalf("failed attempts by endpoint = %+v, %v", failed, err)
		}
		ok, err := c.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, &svix.MessageAttemptListByEndpointOptions{Status: ptr(svix.MessageStatus(0))})
		if err != nil || len(ok.Data) != 0 {
			t.Fatalf("successful attempts by endpoint = %+v, %v; want none", ok, err)
		}
		dests, err := c.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
		if err != nil || len(dests.Data) != 1 || dests.Data[0].Id != ep.Id || dests.Data[0].Status != svix.MessageStatus(2) || dests.Data[0].StatusText != models.MESSAGESTATUSTEXT_FAIL {
			t.Fatalf("destinations = %+v, %v", dests, err)
		}
		st, err := c.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
		if err != nil || st.Fail != 1 || st.Success != 0 {
			t.Fatalf("stats = %+v, %v", st, err)
		}
	})
	t.Run("recover", func(t *testing.T) {
		h, latest := recovered(t)
		if latest.Status != svix.MessageStatus(0) || latest.StatusText != models.MESSAGESTATUSTEXT_SUCCESS || latest.ResponseStatusCode != 200 {
			t.Fatalf("attempt after recover = %+v", latest)
		}
		st, err := c.Endpoint.GetStats(ctx, h.app.Id, h.ep.Id, nil)
		if err != nil || st.Success != 1 || st.Fail != 0 {
			t.Fatalf("stats after recover = %+v, %v", st, err)
		}
	})
	t.Run("resend", func(t *testing.T) {
		h, latest := resent(t)
		if latest.Status != svix.MessageStatus(0) || latest.TriggerType != 1 {
			t.Fatalf("resent attempt = %+v, want a successful manual attempt", latest)
		}
		if n := h.received.Load(); n != 3 {
			t.Fatalf("receiver got %d requests, want 3", n)
		}
		forEp, err := c.MessageAttempt.ListByMsg(ctx, h.app.Id, h.msg.Id, &svix.MessageAttemptListByMsgOptions{EndpointId: &h.ep.Id})
		if err != nil || len(forEp.Data) != 3 {
			t.Fatalf("attempts of the message to the endpoint = %d, %v; want 3", len(forEp.Data), err)
		}
	})
	t.Run("attempt pages", func(t *testing.T) {
		h, _ := resent(t)
		seen := map[string]bool{}
		var iter *string
		for page := 1; ; page++ {
			if page > 5 {
				t.Fatal("pagination does not end")
			}
			list, err := c.MessageAttempt.ListByEndpoint(ctx, h.app.Id, h.ep.Id, &svix.MessageAttemptListByEndpointOptions{Limit: ptr(uint64(2)), Iterator: iter})
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, at := range list.Data {
				if seen[at.Id] {
					t.Fatalf("attempt %s listed twice", at.Id)
				}
				seen[at.Id] = true
			}
			if list.Done {
				if page != 2 || len(seen) != 3 {
					t.Fatalf("%d pages, %d attempts; want 2 pages, 3 attempts", page, len(seen))
				}
				break
			}
			iter = list.Iterator
		}
	})
	t.Run("unknown ids", func(t *testing.T) {
		h := newHistory(t)
		app, ep := h.app, h.ep
		_, err := c.Endpoint.Recover(ctx, app.Id, "ep_nope", svix.RecoverIn{Since: time.Now().Add(-time.Hour)}, nil)
		wantStatus(t, err, http.StatusNotFound)
		wantStatus(t, resend(c, ctx, app.Id, "msg_nope", ep.Id), http.StatusNotFound)
		_, err = c.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, "msg_nope", nil)
		wantStatus(t, err, http.StatusNotFound)
		_, err = c.MessageAttempt.ListByEndpoint(ctx, app.Id, "ep_nope", nil)
		wantStatus(t, err, http.StatusNotFound)
		_, err = c.Endpoint.GetStats(ctx, app.Id, "ep_nope", nil)
		wantStatus(t, err, http.StatusNotFound)
	})
}

// TestEndpointStatsWindow checks that the endpoint stats count only the deliveries of
// the messages created in [since, until): one message fails before the split, one
// succeeds after it, and bad windows are refused.
func TestEndpointStatsWindow(t *testing.T) {
	none, err := hookd.ParseRetrySchedule("none")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) { c.RetrySchedule = none })
	ctx := context.Background()
	c := ts.client

	var received atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if received.Add(1) == 1 {
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rcv.Close)
	app, ep := appWithEndpoint(t, c, rcv.URL+"/hook")
	send := func() time.Time {
		t.Helper()
		msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]interface{}{"n": 1.0}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		at, ok := hookd.IDTime(msg.Id)
		if !ok {
			t.Fatalf("message ID %q carries no time", msg.Id)
		}
		return at
	}
	stats := func(opts *svix.EndpointGetStatsOptions) *models.EndpointStats {
		t.Helper()
		st, err := c.Endpoint.GetStats(ctx, app.Id, ep.Id, opts)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	settled := func(success, fail int64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("stats of success %d, fail %d", success, fail), func() bool {
			st := stats(nil)
			return st.Success == success && st.Fail == fail && st.Pending == 0 && st.Sending == 0
		})
	}

	// The SDK sends since and until in whole seconds, so the second message is sent
	// once the first one's second has passed, and the split is the start of its second.
	first := send()
	settled(0, 1)
	time.Sleep(time.Until(first.Truncate(time.Second).Add(time.Second))) // the next whole second
	split := send().Truncate(time.Second)
	settled(1, 1)
	if !split.After(first) {
		t.Fatalf("second message's second %v is not after the first message at %v", split, first)
	}

	before, later := first.Add(-time.Hour), split.Add(time.Hour)
	for _, w := range []struct {
		name          string
		since, until  *time.Time
		success, fail int64
	}{
		{"both", &before, &later, 1, 1},
		{"before the split", &before, &split, 0, 1},
		{"from the split", &split, nil, 1, 0},
		{"until the split", nil, &split, 0, 1},
		{"after both", &later, nil, 0, 0},
	} {
		st := stats(&svix.EndpointGetStatsOptions{Since: w.since, Until: w.until})
		if st.Success != w.success || st.Fail != w.fail || st.Pending != 0 || st.Sending != 0 || st.Canceled != 0 {
			t.Errorf("%s: stats = %+v, want success %d, fail %d", w.name, st, w.success, w.fail)
		}
	}

	path := "/api/v1/app/" + app.Id + "/endpoint/" + ep.Id + "/stats"
	for _, q := range []string{"?since=yesterday", "?until=2026-13-01T00:00:00Z", "?since=2026-02-02T00:00:00Z&until=2026-02-01T00:00:00Z"} {
		if code, body := ts.raw(t, "GET", path+q, ""); code != http.StatusUnprocessableEntity {
			t.Errorf("GET %s = %d %s, want 422", q, code, body)
		}
	}
}

// appWithEndpoint creates an application with one endpoint at url.
func appWithEndpoint(t *testing.T, c *svix.Svix, url string) (*models.ApplicationOut, *models.EndpointOut) {
	t.Helper()
	ctx := context.Background()
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return app, ep
}

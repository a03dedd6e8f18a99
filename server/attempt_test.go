package server_test

import (
	"context"
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

	var failing atomic.Bool
	var received atomic.Int32
	failing.Store(true)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rcv.Close)

	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL + "/hook"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]interface{}{"n": 1.0}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// waitAttempts polls until the message has n attempts and the endpoint has no
	// pending delivery, and returns the attempts, newest first.
	waitAttempts := func(n int) []svix.MessageAttemptOut {
		t.Helper()
		for range 500 {
			list, err := c.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Data) == n && st.Pending == 0 && st.Sending == 0 {
				return list.Data
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("message never reached %d attempts", n)
		return nil
	}

	t.Run("failed", func(t *testing.T) {
		at := waitAttempts(1)[0]
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
		failing.Store(false)
		rec, err := c.Endpoint.Recover(ctx, app.Id, ep.Id, svix.RecoverIn{Since: time.Now().Add(-time.Hour)}, nil)
		if err != nil || rec.Task != "endpoint.recover" {
			t.Fatalf("recover = %+v, %v", rec, err)
		}
		latest := waitAttempts(2)[0]
		if latest.Status != svix.MessageStatus(0) || latest.StatusText != models.MESSAGESTATUSTEXT_SUCCESS || latest.ResponseStatusCode != 200 {
			t.Fatalf("attempt after recover = %+v", latest)
		}
		st, err := c.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
		if err != nil || st.Success != 1 || st.Fail != 0 {
			t.Fatalf("stats after recover = %+v, %v", st, err)
		}
	})
	t.Run("resend", func(t *testing.T) {
		if err := resend(c, ctx, app.Id, msg.Id, ep.Id); err != nil {
			t.Fatalf("resend: %v", err)
		}
		latest := waitAttempts(3)[0]
		if latest.Status != svix.MessageStatus(0) || latest.TriggerType != 1 {
			t.Fatalf("resent attempt = %+v, want a successful manual attempt", latest)
		}
		if n := received.Load(); n != 3 {
			t.Fatalf("receiver got %d requests, want 3", n)
		}
		forEp, err := c.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, &svix.MessageAttemptListByMsgOptions{EndpointId: &ep.Id})
		if err != nil || len(forEp.Data) != 3 {
			t.Fatalf("attempts of the message to the endpoint = %d, %v; want 3", len(forEp.Data), err)
		}
	})
	t.Run("attempt pages", func(t *testing.T) {
		seen := map[string]bool{}
		var iter *string
		for page := 1; ; page++ {
			if page > 5 {
				t.Fatal("pagination does not end")
			}
			list, err := c.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, &svix.MessageAttemptListByEndpointOptions{Limit: ptr(uint64(2)), Iterator: iter})
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

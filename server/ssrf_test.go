package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
	svix "github.com/svix/svix-webhooks/go"
)

// TestSSRFThroughAPI registers endpoints on internal addresses the way a user would:
// the API accepts them, and every delivery is refused at dial time with the reason
// in the attempt log, without a request reaching the receiver.
func TestSSRFThroughAPI(t *testing.T) {
	var hits atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
	}))
	t.Cleanup(rcv.Close)
	port := mustURL(t, rcv.URL).Port()

	ts := startServer(t, func(c *server.Config) {
		c.AllowPrivate = false
		c.RetrySchedule = hookd.RetrySchedule{Name: "none"}
	})
	ctx := context.Background()
	c := ts.client
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, reason string
	}{
		{"127.0.0.1", "http://127.0.0.1:" + port + "/hook", "loopback"},
		{"localhost", "http://localhost:" + port + "/hook", "loopback"},
		{"10.0.0.1", "http://10.0.0.1:" + port + "/hook", "private"},
		{"169.254.169.254", "http://169.254.169.254/latest/meta-data/", "link-local"},
		{"[::1]", "http://[::1]:" + port + "/hook", "loopback"},
		{"[::ffff:127.0.0.1]", "http://[::ffff:127.0.0.1]:" + port + "/hook", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: tt.url, Channels: []string{channel(tt.name)}}, nil)
			if err != nil {
				t.Fatalf("the API refused %s: %v (the guard belongs at delivery)", tt.url, err)
			}
			msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Channels: []string{channel(tt.name)},
				Payload: map[string]interface{}{"to": tt.name}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			at := waitAttempt(t, c, app.Id, msg.Id)
			if at.EndpointId != ep.Id || at.Status != svix.MessageStatus(2) || at.ResponseStatusCode != 0 {
				t.Fatalf("attempt = %+v, want a failure with no response", at)
			}
			if !strings.HasPrefix(at.Response, "refused by SSRF guard") || !strings.Contains(at.Response, tt.reason) {
				t.Fatalf("attempt response %q, want the SSRF guard's reason (%s)", at.Response, tt.reason)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

// channel turns a test name into a channel name, so that each message goes to one
// endpoint only.
func channel(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' {
			return r
		}
		return '-'
	}, name)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitAttempt waits, at most 10 s, for the first attempt of msgID.
func waitAttempt(t *testing.T, c *svix.Svix, appID, msgID string) svix.MessageAttemptOut {
	t.Helper()
	var first svix.MessageAttemptOut
	hookdtest.Eventually(t, 30*time.Second, "an attempt of "+msgID, func() bool {
		list, err := c.MessageAttempt.ListByMsg(context.Background(), appID, msgID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Data) == 0 {
			return false
		}
		first = list.Data[0]
		return true
	})
	return first
}

package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// TestReenableReplaysMissed disables an endpoint, sends messages while it is
// disabled, re-enables it and replays what it missed: the receiver then gets exactly
// those messages, and nothing twice.
func TestReenableReplaysMissed(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("Webhook-Id"))
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(got))
	}
	waitReceived := func(want []string) {
		t.Helper()
		slices.Sort(want)
		for i := 0; i < 500 && !slices.Equal(received(), want); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if r := received(); !slices.Equal(r, want) {
			t.Fatalf("receiver got %v, want %v", r, want)
		}
	}
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL + "/hook"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(n int) string {
		t.Helper()
		m, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Payload: map[string]interface{}{"n": n}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m.Id
	}
	before := send(0)
	waitReceived([]string{before})

	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if _, err := c.Endpoint.Patch(ctx, app.Id, ep.Id, svix.EndpointPatch{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	missed := []string{send(1), send(2), send(3)}
	if dests, err := c.MessageAttempt.ListAttemptedMessages(ctx, app.Id, ep.Id, nil); err != nil || len(dests.Data) != 1 {
		t.Fatalf("while disabled the endpoint has %d messages (%v), want only the first", len(dests.Data), err)
	}
	if _, err := c.Endpoint.Patch(ctx, app.Id, ep.Id, svix.EndpointPatch{Disabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	// The SDK v1.44.0 drops ReplayMissing's body; send it raw.
	code, body := ts.raw(t, "POST", "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/replay-missing", `{"since":"`+since+`"}`)
	if code != http.StatusAccepted || !strings.Contains(string(body), `"endpoint.replay"`) {
		t.Fatalf("replay-missing: %d %s", code, body)
	}
	waitReceived(append([]string{before}, missed...))

	// A second replay finds nothing missing.
	if code, body := ts.raw(t, "POST", "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/replay-missing", `{"since":"`+since+`"}`); code != http.StatusAccepted {
		t.Fatalf("second replay-missing: %d %s", code, body)
	}
	after := send(4)
	waitReceived(append([]string{before, after}, missed...))
}

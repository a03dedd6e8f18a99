package server_test

import (
	"net/http"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestPrecheck asks whether a message would reach an endpoint, through the SDK.
func TestPrecheck(t *testing.T) {
	ts := startServer(t)
	c, ctx := ts.client, t.Context()
	if _, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	active := func(eventType string, channels ...string) bool {
		t.Helper()
		out, err := c.Message.Precheck(ctx, "acme", svix.MessagePrecheckIn{EventType: eventType, Channels: channels}, nil)
		if err != nil {
			t.Fatalf("precheck %s %v: %v", eventType, channels, err)
		}
		return out.Active
	}
	if active("a.b") {
		t.Error("active without any endpoint")
	}
	ep, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/a", FilterTypes: []string{"a.b"}, Channels: []string{"eu"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		eventType string
		channels  []string
		want      bool
	}{
		{"a.b", []string{"eu"}, true},
		{"a.b", []string{"us", "eu"}, true},
		{"a.b", nil, false},
		{"a.b", []string{"us"}, false},
		{"c.d", []string{"eu"}, false},
	} {
		if got := active(tt.eventType, tt.channels...); got != tt.want {
			t.Errorf("precheck %s %v = %v, want %v", tt.eventType, tt.channels, got, tt.want)
		}
	}
	if _, err := c.Endpoint.Patch(ctx, "acme", ep.Id, svix.EndpointPatch{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if active("a.b", "eu") {
		t.Error("active with the only endpoint disabled")
	}
	_, err = c.Message.Precheck(ctx, "nope", svix.MessagePrecheckIn{EventType: "a.b"}, nil)
	wantStatus(t, err, http.StatusNotFound)
	for _, body := range []string{`{}`, `{"eventType":"bad type"}`, `{"eventType":"a.b","channels":["x","x","x","x","x","x","x","x","x","x","x"]}`} {
		if code, b := ts.raw(t, "POST", "/api/v1/app/acme/msg/precheck/active", body); code != 422 {
			t.Errorf("precheck %s = %d %s, want 422", body, code, b)
		}
	}
}

// TestEventTypeRetrySchedule reads and sets an event type's retry schedule in the
// contract's form, which is the event type's retrySchedule extension as well.
func TestEventTypeRetrySchedule(t *testing.T) {
	ts := startServer(t)
	c, ctx := ts.client, t.Context()
	if _, err := c.EventType.Create(ctx, svix.EventTypeIn{Name: "a.b", Description: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/event-type/a.b/retry-schedule"
	get := func() string {
		t.Helper()
		code, b := ts.raw(t, "GET", path, "")
		if code != 200 {
			t.Fatalf("get: %d %s", code, b)
		}
		return string(b)
	}
	if got := get(); got != `{"retrySchedule":null}` {
		t.Errorf("unset schedule = %s", got)
	}
	code, b := ts.raw(t, "PUT", path, `{"retrySchedule":[{"secs":5,"nanos":0},{"secs":300,"nanos":0},{"secs":1,"nanos":500000000}]}`)
	want := `{"retrySchedule":[{"secs":5,"nanos":0},{"secs":300,"nanos":0},{"secs":1,"nanos":500000000}]}`
	if code != 200 || string(b) != want {
		t.Fatalf("put = %d %s, want %s", code, b, want)
	}
	if got := get(); got != want {
		t.Errorf("read back %s, want %s", got, want)
	}
	et, err := c.EventType.Get(ctx, "a.b")
	if err != nil {
		t.Fatal(err)
	}
	if code, b := ts.raw(t, "GET", "/api/v1/event-type/a.b", ""); code != 200 || !strings.Contains(string(b), `"retrySchedule":"5s,5m0s,1.5s"`) {
		t.Errorf("event type = %d %s (SDK %+v), want retrySchedule 5s,5m0s,1.5s", code, b, et)
	}
	// A preset set as text reads back as its waits.
	if code, b := ts.raw(t, "PATCH", "/api/v1/event-type/a.b", `{"retrySchedule":"short"}`); code != 200 {
		t.Fatalf("patch: %d %s", code, b)
	}
	if got := get(); got != `{"retrySchedule":[{"secs":60,"nanos":0},{"secs":60,"nanos":0},{"secs":180,"nanos":0},{"secs":300,"nanos":0},{"secs":3000,"nanos":0},{"secs":7200,"nanos":0}]}` {
		t.Errorf("short preset = %s", got)
	}
	if code, b := ts.raw(t, "PUT", path, `{"retrySchedule":[]}`); code != 200 || string(b) != `{"retrySchedule":[]}` {
		t.Errorf("empty schedule = %d %s", code, b)
	}
	if code, b := ts.raw(t, "PUT", path, `{"retrySchedule":null}`); code != 200 || string(b) != `{"retrySchedule":null}` {
		t.Errorf("reset = %d %s", code, b)
	}
	for _, body := range []string{`{"retrySchedule":[{"secs":-1,"nanos":0}]}`, `{"retrySchedule":[{"secs":1}]}`, `{"retrySchedule":[{"secs":1,"nanos":1000000000}]}`, `{"retrySchedule":"5s"}`} {
		if code, b := ts.raw(t, "PUT", path, body); code != 422 {
			t.Errorf("put %s = %d %s, want 422", body, code, b)
		}
	}
	if code, _ := ts.raw(t, "GET", "/api/v1/event-type/nope/retry-schedule", ""); code != 404 {
		t.Errorf("unknown event type = %d, want 404", code)
	}
}

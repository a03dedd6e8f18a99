package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/server"
	svix "github.com/svix/svix-webhooks/go"
)

// TestAttemptHeaders sends a message to a receiver that answers with a header of its
// own and reads the attempt's headers back: the signature headers as sent, the custom
// header's value redacted and named in sensitive, the receiver's header in the response.
func TestAttemptHeaders(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	const apiKey = "key-that-must-not-show"
	got := make(chan http.Header, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case got <- r.Header.Clone():
		default:
		}
		w.Header().Set("X-Receiver-Trace", "trace-42")
		w.WriteHeader(http.StatusNoContent)
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
	if err := c.Endpoint.UpdateHeaders(ctx, app.Id, ep.Id, svix.EndpointHeadersIn{Headers: map[string]string{"X-Api-Key": apiKey}}); err != nil {
		t.Fatal(err)
	}
	msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]any{"n": 1.0}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := <-got
	if sent.Get("X-Api-Key") != apiKey {
		t.Fatalf("receiver got X-Api-Key %q", sent.Get("X-Api-Key"))
	}
	var attemptID string
	waitFor(t, "the attempt", func() bool {
		list, err := c.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Data) > 0 {
			attemptID = list.Data[0].Id
		}
		return attemptID != ""
	})

	code, body := ts.raw(t, "GET", "/api/v1/app/"+app.Id+"/msg/"+msg.Id+"/attempt/"+attemptID+"/headers", "")
	if code != http.StatusOK {
		t.Fatalf("headers: %d %s", code, body)
	}
	if strings.Contains(string(body), apiKey) {
		t.Fatalf("headers answer shows the custom header's value: %s", body)
	}
	var out struct {
		SentHeaders     map[string]string `json:"sentHeaders"`
		ResponseHeaders [][]string        `json:"responseHeaders"`
		Sensitive       []string          `json:"sensitive"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	sentGet := func(name string) (string, bool) {
		for k, v := range out.SentHeaders {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
		return "", false
	}
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if v, ok := sentGet(name); !ok || v != sent.Get(name) {
			t.Errorf("sentHeaders[%s] = %q, want %q as received", name, v, sent.Get(name))
		}
	}
	if v, _ := sentGet("X-Api-Key"); v != hookd.RedactedValue {
		t.Errorf("sentHeaders[X-Api-Key] = %q, want %q", v, hookd.RedactedValue)
	}
	if len(out.Sensitive) != 1 || !strings.EqualFold(out.Sensitive[0], "X-Api-Key") {
		t.Errorf("sensitive = %q, want [X-Api-Key]", out.Sensitive)
	}
	var trace string
	for _, kv := range out.ResponseHeaders {
		if len(kv) == 2 && strings.EqualFold(kv[0], "X-Receiver-Trace") {
			trace = kv[1]
		}
	}
	if trace != "trace-42" {
		t.Errorf("responseHeaders = %q, want X-Receiver-Trace: trace-42", out.ResponseHeaders)
	}

	code, body = ts.raw(t, "GET", "/api/v1/app/"+app.Id+"/msg/"+msg.Id+"/attempt/atmpt_missing/headers", "")
	if code != http.StatusNotFound || !strings.Contains(string(body), "not_found") {
		t.Errorf("unknown attempt: %d %s", code, body)
	}
}

// TestAttemptLogCaps sets --response-body-cap and --attempt-headers-cap low and
// checks that the attempt keeps the start of the response body and the headers that
// fit, on each side.
func TestAttemptLogCaps(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.ResponseBodyCap = 10; c.AttemptHeadersCap = 1024 })
	ctx := context.Background()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Small", "kept")
		w.Header().Set("X-Large", strings.Repeat("x", 2000))
		_, _ = io.WriteString(w, "0123456789abcdefghij")
	}))
	t.Cleanup(rcv.Close)
	if _, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: rcv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	msg, err := ts.client.Message.Create(ctx, "acme", svix.MessageIn{EventType: "invoice.paid", Payload: map[string]any{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var at svix.MessageAttemptOut
	waitFor(t, "the attempt", func() bool {
		list, err := ts.client.MessageAttempt.ListByMsg(ctx, "acme", msg.Id, nil)
		if err != nil || len(list.Data) == 0 {
			return false
		}
		at = list.Data[0]
		return true
	})
	if at.Response != "0123456789" {
		t.Errorf("response = %q, want the first 10 bytes", at.Response)
	}
	code, b := ts.raw(t, "GET", "/api/v1/app/acme/msg/"+msg.Id+"/attempt/"+at.Id+"/headers", "")
	if code != http.StatusOK {
		t.Fatalf("headers: %d %s", code, b)
	}
	var h struct {
		Sent     map[string]string `json:"sentHeaders"`
		Response [][2]string       `json:"responseHeaders"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	var small, large bool
	for _, kv := range h.Response {
		small = small || kv[0] == "X-Small"
		large = large || kv[0] == "X-Large"
	}
	if !small || large {
		t.Errorf("response headers %q: want X-Small kept and X-Large left out", h.Response)
	}
	if h.Sent["Webhook-Id"] == "" && h.Sent["webhook-id"] == "" {
		t.Errorf("sent headers %q: want the webhook-id kept", h.Sent)
	}
}

func TestAttemptLogCapsValidated(t *testing.T) {
	for _, c := range []func(*server.Config){
		func(c *server.Config) { c.ResponseBodyCap = 0 },
		func(c *server.Config) { c.ResponseBodyCap = hookd.MaxResponseBodyCap + 1 },
		func(c *server.Config) { c.AttemptHeadersCap = 100 },
	} {
		cfg := server.DefaultConfig()
		c(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "-cap") {
			t.Errorf("Validate = %v, want an error naming the cap", err)
		}
	}
}

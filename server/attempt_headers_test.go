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

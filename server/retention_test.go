package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
)

// TestRetentionThroughAPI checks the payload retention end to end: a message's own
// payloadRetentionHours and the server's --retention, the payload gone after its
// time (and the attempt's body with it), kept before, and a resend of a purged
// message refused with 410 payload_expired.
func TestRetentionThroughAPI(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	ts := startServer(t, func(c *server.Config) {
		c.Now = func() time.Time { return *clock.Load() }
		c.Retention = 3 * time.Hour
		c.MetadataRetention = 24 * time.Hour
	})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"received":true}`))
	}))
	t.Cleanup(rcv.Close)
	post := func(path, body string, want int) map[string]any {
		t.Helper()
		code, b := ts.raw(t, "POST", path, body)
		if code != want {
			t.Fatalf("POST %s: %d %s, want %d", path, code, b, want)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	app := post("/api/v1/app", `{"name":"Acme"}`, http.StatusCreated)["id"].(string)
	ep := post("/api/v1/app/"+app+"/endpoint", `{"url":"`+rcv.URL+`/hook"}`, http.StatusCreated)["id"].(string)
	short := post("/api/v1/app/"+app+"/msg", `{"eventType":"a","payload":{"secret":"short-lived"},"payloadRetentionHours":1}`, http.StatusAccepted)["id"].(string)
	long := post("/api/v1/app/"+app+"/msg", `{"eventType":"a","payload":{"secret":"default"}}`, http.StatusAccepted)["id"].(string)
	// Refused: both fields, or out of the contract's bounds.
	post("/api/v1/app/"+app+"/msg", `{"eventType":"a","payload":{},"payloadRetentionHours":1,"payloadRetentionPeriod":1}`, http.StatusUnprocessableEntity)
	post("/api/v1/app/"+app+"/msg", `{"eventType":"a","payload":{},"payloadRetentionPeriod":91}`, http.StatusUnprocessableEntity)
	for _, m := range []string{short, long} {
		waitFor(t, "the attempt of "+m, func() bool {
			code, b := ts.raw(t, "GET", "/api/v1/app/"+app+"/attempt/msg/"+m, "")
			return code == http.StatusOK && strings.Contains(string(b), `"status":0`)
		})
	}
	get := func(path string) string {
		t.Helper()
		code, b := ts.raw(t, "GET", path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		return string(b)
	}
	ctx := context.Background()

	// Within both retentions: nothing goes.
	at := start.Add(59 * time.Minute)
	clock.Store(&at)
	if err := ts.srv.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if b := get("/api/v1/app/" + app + "/msg/" + short); !strings.Contains(b, "short-lived") {
		t.Fatalf("payload gone before its retention: %s", b)
	}

	// Past the message's own hour, within the server's three.
	at = start.Add(61 * time.Minute)
	clock.Store(&at)
	if err := ts.srv.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if b := get("/api/v1/app/" + app + "/msg/" + short); strings.Contains(b, "short-lived") {
		t.Fatalf("payload kept past its retention: %s", b)
	}
	if b := get("/api/v1/app/" + app + "/attempt/msg/" + short); strings.Contains(b, "received") {
		t.Fatalf("attempt response body kept past the retention: %s", b)
	}
	if b := get("/api/v1/app/" + app + "/msg/" + long); !strings.Contains(b, `"default"`) {
		t.Fatalf("payload within the server's retention gone: %s", b)
	}
	code, b := ts.raw(t, "POST", "/api/v1/app/"+app+"/msg/"+short+"/endpoint/"+ep+"/resend", "")
	if code != http.StatusGone || !strings.Contains(string(b), `"payload_expired"`) {
		t.Fatalf("resend of a purged message: %d %s, want 410 payload_expired", code, b)
	}
	post("/api/v1/app/"+app+"/msg/"+long+"/endpoint/"+ep+"/resend", "", http.StatusAccepted)
	waitFor(t, "the resend's attempt", func() bool {
		return strings.Count(get("/api/v1/app/"+app+"/attempt/msg/"+long), `"status":0`) == 2
	})

	// Past the metadata retention the messages go whole.
	at = start.Add(25 * time.Hour)
	clock.Store(&at)
	if err := ts.srv.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{short, long} {
		if code, b := ts.raw(t, "GET", "/api/v1/app/"+app+"/msg/"+m, ""); code != http.StatusNotFound {
			t.Fatalf("message %s past the metadata retention: %d %s, want 404", m, code, b)
		}
	}
}

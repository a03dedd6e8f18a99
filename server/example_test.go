package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// TestSendExample sends an event type's example to one endpoint, whatever its
// filters, and refuses what cannot be sent.
func TestSendExample(t *testing.T) {
	ts := startServer(t)
	bodies := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
	}))
	t.Cleanup(rcv.Close)

	post := func(path, body string, want int) []byte {
		t.Helper()
		return ts.expect(t, "POST", path, body, want)
	}
	var app, ep, other struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(post("/api/v1/app", `{"name":"a"}`, 201), &app)
	_ = json.Unmarshal(post("/api/v1/app/"+app.ID+"/endpoint", `{"url":"`+rcv.URL+`","filterTypes":["other.type"]}`, 201), &ep)
	_ = json.Unmarshal(post("/api/v1/app/"+app.ID+"/endpoint", `{"url":"`+rcv.URL+`/other"}`, 201), &other)
	post("/api/v1/event-type", `{"name":"invoice.paid","description":"d","schemas":{"1":{"examples":[{"v":1}]},"2":{"examples":[{"v":2,"first":true},{"v":2,"second":"<b>"}]}}}`, 201)
	post("/api/v1/event-type", `{"name":"bare","description":"no schema"}`, 201)
	send := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/send-example"

	var msg struct {
		ID        string          `json:"id"`
		EventType string          `json:"eventType"`
		Payload   json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(post(send, `{"eventType":"invoice.paid","exampleIndex":1}`, 202), &msg)
	same := func(a, b string) bool {
		var x, y any
		return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
	}
	if msg.EventType != "invoice.paid" || !same(string(msg.Payload), `{"v":2,"second":"<b>"}`) {
		t.Fatalf("send-example answered %+v", msg)
	}
	select {
	case got := <-bodies:
		if !same(got, `{"v":2,"second":"<b>"}`) {
			t.Fatalf("receiver got %s, want the newest schema's second example", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the example did not arrive")
	}
	// Only the endpoint asked for got it, and it is a logged message.
	code, out := ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/msg/"+msg.ID+"/endpoint", "")
	var dests struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(out, &dests)
	if code != 200 || len(dests.Data) != 1 || dests.Data[0].ID != ep.ID {
		t.Fatalf("destinations of the example: %d %s, want only %s", code, out, ep.ID)
	}

	for name, body := range map[string]string{
		"no event type":      `{}`,
		"unknown event type": `{"eventType":"nope"}`,
		"no example":         `{"eventType":"bare"}`,
		"index out of range": `{"eventType":"invoice.paid","exampleIndex":2}`,
		"negative index":     `{"eventType":"invoice.paid","exampleIndex":-1}`,
	} {
		t.Run(name, func(t *testing.T) { post(send, body, 422) })
	}
	post("/api/v1/app/"+app.ID+"/endpoint/ep_unknown/send-example", `{"eventType":"invoice.paid"}`, 404)
	if code, out := ts.raw(t, "PATCH", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID, `{"disabled":true}`); code != 200 {
		t.Fatalf("disable: %d %s", code, out)
	}
	post(send, `{"eventType":"invoice.paid"}`, 422)
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestMessagePayloadCompacted checks that compacting a payload on the way in keeps
// its meaning: the payload read back equals the input without insignificant
// whitespace, with whitespace, brackets and escapes inside strings intact.
func TestMessagePayloadCompacted(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if _, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, payload string }{
		{name: "compact", payload: `{"a":1,"b":"x"}`},
		{name: "spaces around tokens", payload: `{ "a" : [ 1 , 2 ] , "c" : { } }`},
		{name: "whitespace inside strings", payload: `{"s":"a b\t c","t":" { [ , ] } "}`},
		{name: "escapes", payload: "{\n\t\"q\": \"say \\\"hi\\\" \\\\\" ,\r\n \"u\": \"\\u0020x\"\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ts.raw(t, http.MethodPost, "/api/v1/app/acme/msg", `{"eventType":"a","payload":`+tt.payload+`}`)
			if code != http.StatusAccepted {
				t.Fatalf("create: status %d: %s", code, body)
			}
			var out struct{ ID string }
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			code, body = ts.raw(t, http.MethodGet, "/api/v1/app/acme/msg/"+out.ID, "")
			if code != http.StatusOK {
				t.Fatalf("get: status %d: %s", code, body)
			}
			var got struct{ Payload json.RawMessage }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, []byte(tt.payload)); err != nil {
				t.Fatal(err)
			}
			if string(got.Payload) != want.String() {
				t.Errorf("payload = %s, want %s", got.Payload, want.String())
			}
		})
	}
}

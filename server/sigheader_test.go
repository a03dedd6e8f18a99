package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookd/hookd/webhook"
)

// TestNamedSignatureHeader gives hex-profile endpoints their own signature header, as
// receivers of other providers expect it, and checks that the signature arrives there
// (and only there) and verifies.
func TestNamedSignatureHeader(t *testing.T) {
	ts := startServer(t)
	rcv, rsrv := newCapture(t)
	var app struct{ ID string }
	_, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"named"}`)
	_ = json.Unmarshal(b, &app)
	for _, tc := range []struct{ profile, header string }{
		{"hmac-sha256-hex", "lean-signature"},
		{"hmac-sha512-hex", "Loopwise-Webhook-Signature"},
	} {
		body := `{"url":"` + rsrv.URL + "/" + tc.profile + `","signatureProfile":"` + tc.profile + `","signatureHeader":"` + tc.header + `"}`
		var ep struct {
			ID              string
			SignatureHeader *string
		}
		code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", body)
		if code != 201 || json.Unmarshal(b, &ep) != nil || ep.SignatureHeader == nil || *ep.SignatureHeader != tc.header {
			t.Fatalf("create: %d %s", code, b)
		}
		var sec struct{ Key string }
		_, b = ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID+"/secret", "")
		_ = json.Unmarshal(b, &sec)
		ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/msg", `{"eventType":"x","payload":{"p":"`+tc.profile+`"}}`)
		r := rcv.next(t, "/"+tc.profile, 1)
		p, _ := webhook.LookupProfile(tc.profile)
		if r.header.Get(tc.header) == "" || r.header.Get(p.SignatureHeader) != "" {
			t.Fatalf("%s: %s = %q, %s = %q", tc.profile, tc.header, r.header.Get(tc.header), p.SignatureHeader, r.header.Get(p.SignatureHeader))
		}
		v, err := webhook.NewVerifier(p.WithSignatureHeader(tc.header), []string{sec.Key}, webhook.WithoutTimestampCheck())
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(r.header, r.body); err != nil {
			t.Fatalf("%s in %s: %v", tc.profile, tc.header, err)
		}
		// null gives the profile's header back.
		if code, b := ts.raw(t, "PATCH", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID, `{"signatureHeader":null}`); code != 200 || !strings.Contains(string(b), `"signatureHeader":null`) {
			t.Fatalf("reset: %d %s", code, b)
		}
	}
	for _, body := range []string{
		`{"url":"https://example.com","signatureHeader":"x-sig"}`,
		`{"url":"https://example.com","signatureProfile":"github","signatureHeader":"x-sig"}`,
		`{"url":"https://example.com","signatureProfile":"hmac-sha256-hex","signatureHeader":"bad header"}`,
		`{"url":"https://example.com","signatureProfile":"hmac-sha256-hex","signatureHeader":"Content-Type"}`,
	} {
		if code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", body); code != 422 || !strings.Contains(string(b), "signatureHeader") {
			t.Errorf("%s: %d %s, want 422 naming signatureHeader", body, code, b)
		}
	}
}

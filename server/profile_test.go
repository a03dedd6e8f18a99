package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/webhook"
	svix "github.com/svix/svix-webhooks/go"
)

// received is one request as a receiver saw it.
type received struct {
	header http.Header
	body   []byte
}

// TestSignatureProfiles sets each endpoint's signatureProfile through the API and
// checks that the receiver gets the profile's header, verifiable with the webhook
// package and the secret the API hands out.
func TestSignatureProfiles(t *testing.T) {
	tests := []struct {
		profile string
		svix    bool   // server option --svix-headers
		header  string // where the signature must arrive
		prefix  string // how its value starts
	}{
		{profile: "", header: "Webhook-Signature", prefix: "v1,"},
		{profile: "standard", header: "Webhook-Signature", prefix: "v1,"},
		{profile: "standard", svix: true, header: "Svix-Signature", prefix: "v1,"},
		{profile: "hmac-sha512-hex", header: "Webhook-Signature", prefix: "sha512="},
		{profile: "hmac-sha256-hex", header: "Webhook-Signature"},
		{profile: "github", header: "X-Hub-Signature-256", prefix: "sha256="},
		{profile: "stripe", header: "Stripe-Signature", prefix: "t="},
	}
	for _, tt := range tests {
		name := tt.profile
		if name == "" {
			name = "unset"
		}
		if tt.svix {
			name += "/svix-headers"
		}
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, func(c *server.Config) { c.SvixHeaders = tt.svix })
			ctx := context.Background()
			c := ts.client
			got := make(chan received, 10)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- received{header: r.Header.Clone(), body: b}
			}))
			t.Cleanup(rcv.Close)
			app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			in := `{"url":"` + rcv.URL + `/hook"`
			if tt.profile != "" {
				in += `,"signatureProfile":"` + tt.profile + `"`
			}
			code, body := ts.raw(t, "POST", "/api/v1/app/"+app.Id+"/endpoint", in+"}")
			if code != http.StatusCreated {
				t.Fatalf("create endpoint: %d %s", code, body)
			}
			var ep struct{ ID string }
			if err := json.Unmarshal(body, &ep); err != nil || ep.ID == "" {
				t.Fatalf("create endpoint: %s", body)
			}
			secret, err := c.Endpoint.GetSecret(ctx, app.Id, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]interface{}{"amount": 42.0}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var r received
			select {
			case r = <-got:
			case <-time.After(30 * time.Second):
				t.Fatal("no delivery within 30s")
			}
			if tt.profile == "standard" {
				// The default profile, set explicitly, leaves the endpoint readable by the SDK.
				if _, err := c.Endpoint.Get(ctx, app.Id, ep.ID); err != nil {
					t.Errorf("SDK get of a standard-profile endpoint: %v", err)
				}
			}
			if v := r.header.Get(tt.header); v == "" || !strings.HasPrefix(v, tt.prefix) {
				t.Fatalf("%s = %q, want a signature starting %q; headers %v", tt.header, v, tt.prefix, r.header)
			}
			pname := tt.profile
			if tt.svix {
				pname = "svix"
			}
			p, err := webhook.LookupProfile(pname)
			if err != nil {
				t.Fatal(err)
			}
			v, err := webhook.NewVerifier(p, []string{secret.Key})
			if err != nil {
				t.Fatal(err)
			}
			m, err := v.VerifyMessage(r.header, r.body)
			if err != nil {
				t.Fatalf("the receiver cannot verify the %s delivery: %v", pname, err)
			}
			if p.IDHeader != "" && r.header.Get(p.IDHeader) != "" && m.ID != msg.Id {
				t.Errorf("message ID %q, want %q", m.ID, msg.Id)
			}
			// Any other secret must fail: the signature depends on the endpoint's key.
			otherSecret, err := webhook.NewSecret()
			if err != nil {
				t.Fatal(err)
			}
			other, err := webhook.NewVerifier(p, []string{otherSecret})
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Verify(r.header, r.body); err == nil {
				t.Error("a different secret verifies the delivery")
			}
		})
	}
}

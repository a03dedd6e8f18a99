package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
	svix "github.com/svix/svix-webhooks/go"
)

// TestEndpointMTLSAndCA sets an endpoint's client certificate and CA bundle through
// the API, in the shape of Svix's /mtls and /ca operations: bad identities are 422
// naming the field, the private key is never answered, expiry dates are shown, and a
// delivery to a server that requires the certificate succeeds.
func TestEndpointMTLSAndCA(t *testing.T) {
	ca := hookdtest.NewCA(t, "receiver clients")
	var hits atomic.Int64
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 1 && r.TLS.PeerCertificates[0].Subject.CommonName == "hookd" {
			hits.Add(1)
		}
	}))
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	rcv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	rcv.StartTLS()
	t.Cleanup(rcv.Close)

	ts := startServer(t)
	ctx := context.Background()
	app, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	must(t, err)
	ep, err := ts.client.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL + "/hook"}, nil)
	must(t, err)
	base := "/api/v1/app/" + app.Id + "/endpoint/" + ep.Id

	if code, b := ts.raw(t, "GET", base+"/mtls", ""); code != http.StatusNotFound {
		t.Fatalf("GET mtls before any = %d %s, want 404", code, b)
	}
	notAfter := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	identity := ca.Client(t, "hookd", notAfter)
	other := ca.Client(t, "other", notAfter)
	keyOnly := identity[:strings.Index(identity, "-----BEGIN CERTIFICATE")]
	otherCert := other[strings.Index(other, "-----BEGIN CERTIFICATE"):]
	for _, tt := range []struct {
		name, body, want string
	}{
		{"missing", `{}`, "identity is required"},
		{"not PEM", `{"identity":"hello"}`, "want one PEM private key"},
		{"key only", jsonBody("identity", keyOnly), "at least one certificate"},
		{"key of another certificate", jsonBody("identity", keyOnly+otherCert), "invalid client certificate or key"},
		{"expired", jsonBody("identity", ca.Client(t, "old", time.Now().Add(-time.Minute))), "expired"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, b := ts.raw(t, "PUT", base+"/mtls", tt.body)
			if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"loc":["body","identity"]`) || !strings.Contains(string(b), tt.want) {
				t.Fatalf("PUT mtls = %d %s, want 422 naming identity with %q", code, b, tt.want)
			}
		})
	}
	if code, b := ts.raw(t, "PUT", base+"/mtls", jsonBody("identity", identity)); code != http.StatusNoContent {
		t.Fatalf("PUT mtls = %d %s", code, b)
	}
	for _, path := range []string{"/mtls", "/mtls-config"} {
		code, b := ts.raw(t, "GET", base+path, "")
		var out struct {
			Certificate string    `json:"certificate"`
			Subject     string    `json:"subject"`
			NotAfter    time.Time `json:"notAfter"`
		}
		if path == "/mtls-config" { // Svix's EndpointMtlsOut: {enabled, config}
			var state struct {
				Enabled bool            `json:"enabled"`
				Config  json.RawMessage `json:"config"`
			}
			must(t, json.Unmarshal(b, &state))
			if !state.Enabled {
				t.Fatalf("GET mtls-config = %s, want enabled", b)
			}
			b = state.Config
		}
		must(t, json.Unmarshal(b, &out))
		if code != http.StatusOK || out.Subject != "CN=hookd" || !out.NotAfter.Equal(notAfter) || !strings.Contains(out.Certificate, "BEGIN CERTIFICATE") {
			t.Fatalf("GET %s = %d %s, want the certificate, CN=hookd, notAfter %s", path, code, b, notAfter)
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			t.Fatalf("GET %s answered the private key: %s", path, b)
		}
	}
	for _, path := range []string{"", "/secret", "/headers"} {
		if _, b := ts.raw(t, "GET", base+path, ""); strings.Contains(string(b), "PRIVATE KEY") {
			t.Fatalf("GET %s answered the private key: %s", base+path, b)
		}
	}

	// The CA bundle: null, then the receiver's own certificate.
	if code, b := ts.raw(t, "GET", base+"/ca", ""); code != http.StatusOK || string(b) != `{"cert":null,"notAfter":null}` {
		t.Fatalf("GET ca = %d %s, want null", code, b)
	}
	if code, b := ts.raw(t, "PUT", base+"/ca", `{"cert":"not a certificate"}`); code != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"loc":["body","cert"]`) {
		t.Fatalf("PUT bad ca = %d %s, want 422 naming cert", code, b)
	}
	caPEM := hookdtest.CertPEM(rcv.Certificate().Raw)
	if code, b := ts.raw(t, "PUT", base+"/ca", jsonBody("cert", caPEM)); code != http.StatusNoContent {
		t.Fatalf("PUT ca = %d %s", code, b)
	}
	code, b := ts.raw(t, "GET", base+"/ca", "")
	var caOut struct {
		Cert     string    `json:"cert"`
		NotAfter time.Time `json:"notAfter"`
	}
	must(t, json.Unmarshal(b, &caOut))
	if code != http.StatusOK || caOut.Cert != caPEM || !caOut.NotAfter.Equal(rcv.Certificate().NotAfter) {
		t.Fatalf("GET ca = %d %s", code, b)
	}

	msg, err := ts.client.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Payload: map[string]any{"x": 1}}, nil)
	must(t, err)
	at := waitAttempt(t, ts.client, app.Id, msg.Id)
	if at.ResponseStatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("attempt = %+v, receiver saw %d requests with the certificate; want one success", at, hits.Load())
	}

	if code, b := ts.raw(t, "DELETE", base+"/mtls", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE mtls = %d %s", code, b)
	}
	if code, _ := ts.raw(t, "GET", base+"/mtls", ""); code != http.StatusNotFound {
		t.Fatalf("GET mtls after delete = %d, want 404", code)
	}
	if code, b := ts.raw(t, "GET", base+"/mtls-config", ""); code != http.StatusOK || string(b) != `{"enabled":false,"config":null}` {
		t.Fatalf("GET mtls-config after delete = %d %s", code, b)
	}
	if code, _ := ts.raw(t, "PUT", base+"/ca", `{"cert":null}`); code != http.StatusNoContent {
		t.Fatalf("PUT ca null = %d", code)
	}
	if _, b := ts.raw(t, "GET", base+"/ca", ""); string(b) != `{"cert":null,"notAfter":null}` {
		t.Fatalf("GET ca after null = %s", b)
	}
}

// jsonBody returns {"field": value} with value JSON-encoded.
func jsonBody(field, value string) string {
	b, _ := json.Marshal(map[string]string{field: value})
	return string(b)
}

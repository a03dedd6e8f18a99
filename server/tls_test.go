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

// TestEndpointOAuth sets an endpoint's OAuth client credentials through the API in
// the shape of Svix's /oauth operations: bad settings are 422 naming the field, the
// client secret is never answered, and a delivery carries the token.
func TestEndpointOAuth(t *testing.T) {
	var tokens, authorized atomic.Int64
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, _ := r.BasicAuth(); pass != "client-secret-123456" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at-1","token_type":"bearer","expires_in":600}`))
	}))
	t.Cleanup(auth.Close)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer at-1" {
			authorized.Add(1)
		}
	}))
	t.Cleanup(rcv.Close)

	ts := startServer(t)
	ctx := context.Background()
	app, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	must(t, err)
	ep, err := ts.client.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL}, nil)
	must(t, err)
	base := "/api/v1/app/" + app.Id + "/endpoint/" + ep.Id
	if code, b := ts.raw(t, "GET", base+"/oauth", ""); code != http.StatusNotFound {
		t.Fatalf("GET oauth before any = %d %s", code, b)
	}
	if _, b := ts.raw(t, "GET", base+"/oauth-config", ""); string(b) != `{"enabled":false,"config":null}` {
		t.Fatalf("GET oauth-config before any = %s", b)
	}
	good := `"grantType":"clientCredentials","authMethod":"clientSecretBasic","clientId":"hookd","clientSecret":"client-secret-123456","tokenUrl":"` + auth.URL + `/token"`
	for _, tt := range []struct{ body, field string }{
		{`{"grantType":"refreshToken","authMethod":"clientSecretBasic","clientId":"c","tokenUrl":"https://a.example/t"}`, "grantType"},
		{`{"grantType":"clientCredentials","authMethod":"clientSecretJwt","clientId":"c","tokenUrl":"https://a.example/t"}`, "authMethod"},
		{`{"grantType":"clientCredentials","authMethod":"clientSecretBasic","clientId":"c","clientSecret":"s","tokenUrl":"ftp://a.example/t"}`, "tokenUrl"},
		{`{"grantType":"clientCredentials","authMethod":"clientSecretBasic","clientId":"c","tokenUrl":"https://a.example/t"}`, "clientSecret"},
		{`{` + good + `,"scopes":["has space"]}`, "scopes"},
		{`{` + good + `,"extraParams":{"client_secret":"x"}}`, "extraParams"},
	} {
		code, b := ts.raw(t, "PUT", base+"/oauth", tt.body)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"loc":["body","`+tt.field+`"]`) {
			t.Errorf("PUT oauth %s = %d %s, want 422 naming %s", tt.body, code, b, tt.field)
		}
	}
	if code, b := ts.raw(t, "PUT", base+"/oauth", `{`+good+`,"scopes":["webhooks:write"],"audience":"api"}`); code != http.StatusNoContent {
		t.Fatalf("PUT oauth = %d %s", code, b)
	}
	for _, path := range []string{"/oauth", "/oauth-config", "", "/headers", "/secret"} {
		code, b := ts.raw(t, "GET", base+path, "")
		if code != http.StatusOK || strings.Contains(string(b), "client-secret-123456") {
			t.Fatalf("GET %s = %d %s, want it without the client secret", path, code, b)
		}
		if path == "/oauth" && !strings.Contains(string(b), `"audience":"api"`) {
			t.Fatalf("GET oauth = %s, want the audience", b)
		}
	}
	for range 3 {
		msg, err := ts.client.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Payload: map[string]any{"x": 1}}, nil)
		must(t, err)
		if at := waitAttempt(t, ts.client, app.Id, msg.Id); at.ResponseStatusCode != 200 {
			t.Fatalf("attempt = %+v", at)
		}
	}
	if tokens.Load() != 1 || authorized.Load() != 3 {
		t.Fatalf("%d tokens fetched, %d deliveries with it; want 1 and 3", tokens.Load(), authorized.Load())
	}
	if code, _ := ts.raw(t, "DELETE", base+"/oauth", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE oauth = %d", code)
	}
	if code, _ := ts.raw(t, "GET", base+"/oauth", ""); code != http.StatusNotFound {
		t.Fatalf("GET oauth after delete = %d", code)
	}
}

package delivery_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/hookdtest"
)

// clientCert returns a client certificate of ca for cn, valid until notAfter.
func clientCert(t *testing.T, ca *hookdtest.CA, cn string, notAfter time.Time) *hookd.ClientCert {
	t.Helper()
	cc, _, err := hookd.ParseClientIdentity(ca.Client(t, cn, notAfter))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// serverPEM returns the certificate of an httptest TLS server, PEM-encoded: the CA
// bundle that trusts it.
func serverPEM(srv *httptest.Server) string { return hookdtest.CertPEM(srv.Certificate().Raw) }

// attemptOf waits for the first attempt of msg and returns it.
func (e *env) attemptOf(msgID string) *hookd.Attempt {
	e.t.Helper()
	return e.waitAttempts(msgID, 1)[0]
}

// TestMTLS delivers to an HTTPS server that requires a client certificate signed by
// its CA: with the right certificate the delivery succeeds and the server sees it;
// without one, or with one from another CA, the attempt fails with the TLS reason.
// Each endpoint trusts the server through its own CA bundle.
func TestMTLS(t *testing.T) {
	ca := hookdtest.NewCA(t, "receiver clients")
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
	}))
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	e := newEnv(t, func(c *delivery.Config) { c.RetrySchedule = hookd.RetrySchedule{Name: "none"} })
	trust := func(ep *hookd.Endpoint) { ep.ServerCA = serverPEM(srv) }
	accepted := 0 // requests the subtests that ran expect the server to answer
	for _, tt := range []struct {
		name   string
		cert   *hookd.ClientCert
		reason string
	}{
		{"right certificate", clientCert(t, ca, "hookd-sender", time.Now().Add(time.Hour)), ""},
		{"no certificate", nil, "certificate required"},
		// The server names the CAs it accepts; a certificate from another one is not
		// presented, so the server's refusal is the same.
		{"wrong certificate", clientCert(t, hookdtest.NewCA(t, "someone else"), "intruder", time.Now().Add(time.Hour)), "certificate required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ep := e.endpoint(srv.URL+"/hook", trust, func(ep *hookd.Endpoint) {
				ep.ClientCert, ep.Channels = tt.cert, []string{strings.ReplaceAll(tt.name, " ", "-")}
			})
			m := e.send("invoice.paid", ep.Channels, `{}`)
			a := e.attemptOf(m.ID)
			if tt.reason == "" {
				accepted++
				if a.Status != hookd.StatusSuccess {
					t.Fatalf("attempt = %v %q, want success", a.Status, a.Error)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(seen) != 1 || seen[0] != "hookd-sender" {
					t.Fatalf("server saw client certificates %v, want [hookd-sender]", seen)
				}
				return
			}
			if a.Status != hookd.StatusFail || !strings.Contains(a.Error, tt.reason) {
				t.Fatalf("attempt = %v %q, want a failure naming %q", a.Status, a.Error, tt.reason)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != accepted {
		t.Errorf("server answered %d requests, want %d: only those with the right certificate", len(seen), accepted)
	}
}

// TestEndpointCA trusts a custom CA for one endpoint only: the endpoint with the
// bundle reaches the server, another endpoint of the same server without it fails
// certificate verification, and so does one that trusts an unrelated CA.
func TestEndpointCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	e := newEnv(t, func(c *delivery.Config) { c.RetrySchedule = hookd.RetrySchedule{Name: "none"} })
	other := hookdtest.NewCA(t, "unrelated")
	for _, tt := range []struct {
		name, ca string
		ok       bool
	}{
		{"own CA", serverPEM(srv), true},
		{"system roots", "", false},
		{"unrelated CA", other.PEM, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := []string{strings.ReplaceAll(tt.name, " ", "-")}
			ep := e.endpoint(srv.URL, func(ep *hookd.Endpoint) { ep.ServerCA, ep.Channels = tt.ca, ch })
			a := e.attemptOf(e.send("invoice.paid", ch, `{}`).ID)
			if tt.ok != (a.Status == hookd.StatusSuccess) {
				t.Fatalf("attempt to %s = %v %q, want success %v", ep.ID, a.Status, a.Error, tt.ok)
			}
			if !tt.ok && !strings.Contains(a.Error, "certificate") {
				t.Fatalf("attempt error %q, want the certificate failure", a.Error)
			}
		})
	}
}

// TestMTLSExpiring sends endpoint.mtls.expiring once for a client certificate that
// expires within 14 days, however often the endpoint is sent to.
func TestMTLSExpiring(t *testing.T) {
	ops, opt := withOps(t)
	e := newEnv(t, opt, func(c *delivery.Config) { c.CacheTTL = -1 })
	ca := hookdtest.NewCA(t, "clients")
	rc := newReceiver(t, nil)
	soon := e.clock.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) { ep.ClientCert = clientCert(t, ca, "expiring", soon) })
	later := e.endpoint(rc.URL, func(ep *hookd.Endpoint) {
		ep.ClientCert = clientCert(t, ca, "fine", e.clock.Now().Add(30*24*time.Hour))
	})
	for range 3 {
		m := e.send("invoice.paid", nil, `{}`)
		e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
		e.waitDelivery(m.ID, later.ID, hookd.StatusSuccess)
	}
	ev := waitEvent(t, e, ops, delivery.EventEndpointMTLSExpiring)
	if ev.Data["endpointId"] != ep.ID || ev.Data["subject"] != "CN=expiring" || ev.Data["notAfter"] != soon.UTC().Format(time.RFC3339) {
		t.Errorf("event data = %v, want endpoint %s, CN=expiring, notAfter %s", ev.Data, ep.ID, soon.UTC().Format(time.RFC3339))
	}
	n := 0
	for _, r := range ops.requests() {
		var got opsEvent
		if json.Unmarshal(r.body, &got) == nil && got.Type == delivery.EventEndpointMTLSExpiring {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d endpoint.mtls.expiring events, want exactly 1", n)
	}
}

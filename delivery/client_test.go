package delivery_test

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/hookdtest"
)

func TestHTTPS(t *testing.T) {
	rc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("secure " + r.Proto))
	}))
	t.Cleanup(rc.Close)

	t.Run("trusted certificate", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(rc.Certificate())
		e := newEnv(t, func(c *delivery.Config) { c.RootCAs = roots })
		ep := e.endpoint(rc.URL + "/hook")
		msg := e.send("a", nil, `{}`)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
		if as := e.attempts(msg.ID); as[0].Response != "secure HTTP/1.1" {
			t.Fatalf("response %q, want the TLS receiver's", as[0].Response)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		e := newEnv(t)
		ep := e.endpoint(rc.URL + "/hook")
		msg := e.send("a", nil, `{}`)
		as := e.waitAttempts(msg.ID, 1)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
		if as[0].ResponseStatusCode != 0 || !strings.Contains(as[0].Error, "certificate") {
			t.Fatalf("attempt: code %d error %q, want a certificate error", as[0].ResponseStatusCode, as[0].Error)
		}
	})
}

// TestStaleConnection sends twice to a receiver that closes idle keep-alive
// connections quickly: the second delivery finds its pooled connection closed, and
// must still succeed at its first attempt.
func TestStaleConnection(t *testing.T) {
	e := newEnv(t)
	rc := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rc.Config.IdleTimeout = 20 * time.Millisecond
	rc.Start()
	t.Cleanup(rc.Close)
	ep := e.endpoint(rc.URL)
	for i := range 3 {
		msg := e.send("a", nil, `{}`)
		e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
		if n := len(e.attempts(msg.ID)); n != 1 {
			t.Fatalf("message %d: %d attempts, want 1", i, n)
		}
		time.Sleep(100 * time.Millisecond) // the receiver closes the idle connection
	}
}

// TestRequestTarget checks that the request goes to the endpoint's path and query as
// given, without the fragment.
func TestRequestTarget(t *testing.T) {
	e := newEnv(t)
	targets := make(chan string, 1)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		targets <- r.RequestURI
	})
	ep := e.endpoint(rc.URL + "/a//b/../c?x=1%202&y#frag")
	msg := e.send("a", nil, `{}`)
	e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
	if target := <-targets; target != "/a//b/../c?x=1%202&y" {
		t.Errorf("request target %q, want the endpoint's path and query unchanged", target)
	}
}

// TestURLWithCredentialsRefused stores an endpoint whose URL carries user information,
// which the API refuses: the dispatcher applies the same check (hookd.ParseEndpointURL)
// and makes no request.
func TestURLWithCredentialsRefused(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	e.endpoint(strings.Replace(rc.URL, "://", "://hooks:s3cret@", 1))
	msg := e.send("a", nil, `{}`)
	as := e.waitAttempts(msg.ID, 1)
	if as[0].ResponseStatusCode != 0 || !strings.Contains(as[0].Error, "credentials") {
		t.Errorf("attempts %+v, want one refused for the credentials", as)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the receiver got %d requests, want none", n)
	}
}

// TestShutdownCancelsRequests stops the dispatcher while a request hangs: once the
// grace period is over the request is cancelled, and its attempt is recorded so the
// delivery is retried after the restart.
func TestShutdownCancelsRequests(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e := newEnv(t, func(c *delivery.Config) {
		c.ShutdownTimeout = 100 * time.Millisecond
		c.RequestTimeout = 30 * time.Second // without the cancel, Run would wait this long
	})
	ep := e.endpoint(rc.URL)
	msg := e.send("a", nil, `{}`)
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not arrive")
	}
	start := time.Now()
	e.stop()
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Run took %s to return after the grace period", took)
	}
	as := e.attempts(msg.ID)
	if len(as) != 1 || !strings.Contains(as[0].Error, "cancelled") {
		t.Fatalf("attempts %+v, want one cancelled", as)
	}
	if d := e.delivery(msg.ID, ep.ID); d.Status != hookd.StatusPending {
		t.Fatalf("delivery status %v, want pending for a retry", d.Status)
	}
}

// TestResetAfterRequestIsNotRepeated checks that a receiver that resets the
// connection after reading a request gets that request once, on a fresh connection
// and on a kept-alive one: a request that may have reached the receiver is never sent
// again by the client, only by the retry schedule.
func TestResetAfterRequestIsNotRepeated(t *testing.T) {
	for _, answered := range []int{0, 1} {
		t.Run(map[int]string{0: "fresh connection", 1: "kept-alive connection"}[answered], func(t *testing.T) {
			e := newEnv(t)
			rr := hookdtest.NewResetReceiver(t, answered)
			ep := e.endpoint(rr.URL)
			for i := range answered {
				msg := e.send("a", nil, `{}`)
				e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
				if got := rr.Requests(); got != i+1 {
					t.Fatalf("after %d answered deliveries the receiver read %d requests", i+1, got)
				}
			}
			msg := e.send("a", nil, `{}`)
			as := e.waitAttempts(msg.ID, 1)
			if as[0].Status != hookd.StatusFail {
				t.Fatalf("attempt %+v, want a failure", as[0])
			}
			if got, want := rr.Requests(), answered+1; got != want {
				t.Fatalf("the receiver read %d requests, want %d: the reset request was sent again", got, want)
			}
		})
	}
}

package delivery

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// BenchmarkSend measures the send path alone: build the request, sign it with the
// standard profile and POST it to a loopback receiver, reading the response. It is
// an internal benchmark because the send path is not exported.
func BenchmarkSend(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(rc.Close)
	d, info, dl := newSender(b, rc.URL, 5*time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := d.send(ctx, info, dl); r.code != 200 {
				b.Fatalf("send: %d %s", r.code, r.err)
			}
		}
	})
}

// newSender returns a dispatcher on a fresh SQLite store, with an endpoint at url
// whose requests time out after timeout and a delivery to it, for calling send
// directly.
func newSender(tb testing.TB, url string, timeout time.Duration) (*Dispatcher, *endpointInfo, *hookd.Delivery) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "b.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	d, err := New(Config{Store: st, AllowPrivate: true})
	if err != nil {
		tb.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: "ep_1", AppID: "app_1", URL: url, Headers: map[string]string{"X-Tenant": "acme"}}
	info := &endpointInfo{ep: ep, timeout: timeout}
	if info.url, err = hookd.ParseEndpointURL(url); err != nil {
		tb.Fatal(err)
	}
	info.target = requestTarget(info.url)
	info.signer, err = d.newSigner("", "", []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		tb.Fatal(err)
	}
	dl := &hookd.Delivery{ID: "dlv_1", AppID: "app_1", MsgID: "msg_1", EndpointID: "ep_1",
		Message: &hookd.Message{ID: "msg_1", Payload: []byte(`{"type":"invoice.paid","data":{"id":"in_1234567890","amount":4200}}`)}}
	return d, info, dl
}

// countingReceiver is a receiver that answers 204 and counts the connections it
// accepted.
func countingReceiver(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	rc := httptest.NewUnstartedServer(handler)
	rc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	rc.Start()
	t.Cleanup(rc.Close)
	return rc, &conns
}

// TestIdleConnectionOutlivesTimeout sends, waits for longer than the request
// timeout, and sends again: the pooled connection still carries the first request's
// read deadline, which has passed, yet it is open and must be reused, not taken for
// one the receiver closed (which, with more such connections in the pool than the
// immediate retries, failed the attempt and moved the delivery to the next retry).
func TestIdleConnectionOutlivesTimeout(t *testing.T) {
	rc, conns := countingReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	const timeout = 50 * time.Millisecond
	d, info, dl := newSender(t, rc.URL, timeout)
	for i := range 3 {
		if i > 0 {
			time.Sleep(3 * timeout) // idle past the deadline the last request left
		}
		if r := d.send(t.Context(), info, dl); r.err != "" || r.code != http.StatusNoContent {
			t.Fatalf("send %d: %d %s", i+1, r.code, r.err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("the receiver accepted %d connections for 3 requests, want 1: an idle open connection was taken for closed", n)
	}
}

// TestManyStaleConnections fills the pool with more kept-alive connections than a
// request used to retry on, lets the receiver close them all as idle, and sends
// once: the request must move past every closed one and succeed, since nothing was
// sent on any of them.
func TestManyStaleConnections(t *testing.T) {
	const conns = 16
	var arrived atomic.Int64
	all := make(chan struct{})
	var closed atomic.Int64
	rc := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if arrived.Add(1) == conns {
			close(all)
		}
		// The first requests wait for each other, so that each has its own connection.
		select {
		case <-all:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	rc.Config.IdleTimeout = 20 * time.Millisecond
	rc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	rc.Start()
	t.Cleanup(rc.Close)
	d, info, dl := newSender(t, rc.URL, 10*time.Second)

	errs := make(chan string, conns)
	for range conns {
		go func() {
			r := d.send(t.Context(), info, dl)
			errs <- fmt.Sprintf("%d %s", r.code, r.err)
		}()
	}
	for range conns {
		if got := <-errs; got != "204 " {
			t.Fatalf("filling the pool: %s", got)
		}
	}
	for wait := time.Now().Add(10 * time.Second); closed.Load() < conns; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("the receiver closed %d of %d idle connections", closed.Load(), conns)
		}
	}
	if r := d.send(t.Context(), info, dl); r.err != "" || r.code != http.StatusNoContent {
		t.Fatalf("send after the receiver closed %d pooled connections: %d %s", conns, r.code, r.err)
	}
}

package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// receiver is a test server behind Middleware that records what reached the handler
// and which errors were reported.
type receiver struct {
	srv     *httptest.Server
	calls   atomic.Int32
	mu      sync.Mutex
	errs    []error
	lastMsg webhook.Message
	lastRaw []byte
	status  atomic.Int32 // handler's answer; 0 means 204
	block   chan struct{}
}

func newReceiver(t *testing.T, m webhook.Middleware) *receiver {
	t.Helper()
	rc := &receiver{}
	m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		rc.mu.Lock()
		rc.errs = append(rc.errs, err)
		rc.mu.Unlock()
		webhook.WriteError(w, err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.calls.Add(1)
		raw, _ := io.ReadAll(r.Body)
		msg, ok := webhook.MessageFromContext(r.Context())
		if !ok {
			t.Error("no message in context")
		}
		rc.mu.Lock()
		rc.lastMsg, rc.lastRaw = msg, raw
		block := rc.block
		rc.mu.Unlock()
		if block != nil {
			<-block
		}
		status := int(rc.status.Load())
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	}))
	rc.srv = httptest.NewServer(h)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) lastErr() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.errs) == 0 {
		return nil
	}
	return rc.errs[len(rc.errs)-1]
}

// post sends body with headers h to the receiver and returns status and body.
func (rc *receiver) post(t *testing.T, h http.Header, body []byte, extra ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rc.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Add(extra[i], extra[i+1])
	}
	resp, err := rc.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func signNow(t *testing.T, s *webhook.Signer, id string, body []byte) http.Header {
	t.Helper()
	h := http.Header{}
	s.Sign(h, id, time.Now(), body)
	return h
}

func TestMiddleware(t *testing.T) {
	p := mustProfile(t, "standard")
	signer := mustSigner(t, p, kaSecret)
	verifier := mustVerifier(t, p, []string{kaSecret})
	body := []byte(kaBody)

	t.Run("valid request reaches the handler", func(t *testing.T) {
		rc := newReceiver(t, webhook.Middleware{Verifier: verifier, Store: webhook.NewMemoryStore(0, nil)})
		status, _, _ := rc.post(t, signNow(t, signer, "msg_ok", body), body)
		if status != http.StatusNoContent || rc.calls.Load() != 1 {
			t.Fatalf("status %d, calls %d, err %v", status, rc.calls.Load(), rc.lastErr())
		}
		if string(rc.lastRaw) != kaBody || string(rc.lastMsg.Body) != kaBody || rc.lastMsg.ID != "msg_ok" {
			t.Errorf("handler saw body %q, message %+v", rc.lastRaw, rc.lastMsg)
		}
		if time.Since(rc.lastMsg.Timestamp) > time.Minute {
			t.Errorf("timestamp %v", rc.lastMsg.Timestamp)
		}
	})

	rejects := []struct {
		name   string
		mw     webhook.Middleware
		header func() http.Header
		body   []byte
		extra  []string
		status int
		want   error
	}{
		{name: "bad signature", header: func() http.Header {
			h := signNow(t, signer, "msg_1", body)
			h.Set("Webhook-Signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			return h
		}, status: 401, want: webhook.ErrInvalidSignature},
		{name: "tampered body", header: func() http.Header { return signNow(t, signer, "msg_1", body) },
			body: []byte(strings.Replace(kaBody, "4200", "4201", 1)), status: 401, want: webhook.ErrInvalidSignature},
		{name: "missing headers", header: func() http.Header { return http.Header{} }, status: 400, want: webhook.ErrMissingHeaders},
		{name: "expired", header: func() http.Header {
			h := http.Header{}
			signer.Sign(h, "msg_1", time.Now().Add(-10*time.Minute), body)
			return h
		}, status: 401, want: webhook.ErrTimestampTooOld},
		{name: "future", header: func() http.Header {
			h := http.Header{}
			signer.Sign(h, "msg_1", time.Now().Add(10*time.Minute), body)
			return h
		}, status: 401, want: webhook.ErrTimestampTooNew},
		{name: "body too large", mw: webhook.Middleware{MaxBodyBytes: 10},
			header: func() http.Header { return signNow(t, signer, "msg_1", body) }, status: 413, want: webhook.ErrBodyTooLarge},
		{name: "source not allowed", mw: webhook.Middleware{Sources: mustPrefixes(t, "10.0.0.0/8")},
			header: func() http.Header { return signNow(t, signer, "msg_1", body) }, status: 403, want: webhook.ErrSourceNotAllowed},
		{name: "forwarded-for ignored without trusted proxies", mw: webhook.Middleware{Sources: mustPrefixes(t, "10.0.0.0/8")},
			header: func() http.Header { return signNow(t, signer, "msg_1", body) }, extra: []string{"X-Forwarded-For", "10.1.2.3"},
			status: 403, want: webhook.ErrSourceNotAllowed},
		{name: "forwarded-for from trusted proxy outside allowlist", mw: webhook.Middleware{
			Sources: mustPrefixes(t, "10.0.0.0/8"), TrustedProxies: mustPrefixes(t, "127.0.0.1", "::1")},
			header: func() http.Header { return signNow(t, signer, "msg_1", body) }, extra: []string{"X-Forwarded-For", "10.1.2.3, 192.0.2.1"},
			status: 403, want: webhook.ErrSourceNotAllowed},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			mw := tc.mw
			mw.Verifier = verifier
			rc := newReceiver(t, mw)
			b := body
			if tc.body != nil {
				b = tc.body
			}
			status, text, _ := rc.post(t, tc.header(), b, tc.extra...)
			if status != tc.status {
				t.Errorf("status = %d, want %d (%s)", status, tc.status, text)
			}
			if err := rc.lastErr(); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
			if rc.calls.Load() != 0 {
				t.Error("handler was called")
			}
			if strings.Contains(text, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
				t.Errorf("response %q reveals the secret", text)
			}
		})
	}

	t.Run("allowed source through trusted proxy", func(t *testing.T) {
		rc := newReceiver(t, webhook.Middleware{Verifier: verifier,
			Sources: mustPrefixes(t, "10.0.0.0/8"), TrustedProxies: mustPrefixes(t, "127.0.0.0/8", "::1")})
		status, text, _ := rc.post(t, signNow(t, signer, "msg_1", body), body, "X-Forwarded-For", "203.0.113.9, 10.1.2.3")
		if status != http.StatusNoContent {
			t.Fatalf("status %d (%s), err %v", status, text, rc.lastErr())
		}
	})

	t.Run("replay of the same id", func(t *testing.T) {
		rc := newReceiver(t, webhook.Middleware{Verifier: verifier, Store: webhook.NewMemoryStore(0, nil)})
		h := signNow(t, signer, "msg_replay", body)
		if status, _, _ := rc.post(t, h, body); status != http.StatusNoContent {
			t.Fatalf("first status %d", status)
		}
		// Byte-identical replay, then the sender's retry with a fresh signature.
		status, _, _ := rc.post(t, h, body)
		if status != http.StatusOK || !errors.Is(rc.lastErr(), webhook.ErrReplay) {
			t.Errorf("replay: status %d, err %v; want 200 and ErrReplay", status, rc.lastErr())
		}
		status, _, _ = rc.post(t, signNow(t, signer, "msg_replay", body), body)
		if status != http.StatusOK || !errors.Is(rc.lastErr(), webhook.ErrReplay) {
			t.Errorf("retry: status %d, err %v; want 200 and ErrReplay", status, rc.lastErr())
		}
		if n := rc.calls.Load(); n != 1 {
			t.Errorf("handler called %d times, want 1", n)
		}
	})

	t.Run("failed handling lets the retry through", func(t *testing.T) {
		rc := newReceiver(t, webhook.Middleware{Verifier: verifier, Store: webhook.NewMemoryStore(0, nil)})
		rc.status.Store(http.StatusInternalServerError)
		if status, _, _ := rc.post(t, signNow(t, signer, "msg_retry", body), body); status != 500 {
			t.Fatalf("first status %d", status)
		}
		rc.status.Store(http.StatusOK)
		if status, _, _ := rc.post(t, signNow(t, signer, "msg_retry", body), body); status != 200 {
			t.Fatalf("retry status %d", status)
		}
		if n := rc.calls.Load(); n != 2 {
			t.Errorf("handler called %d times, want 2", n)
		}
	})

	t.Run("duplicate while in flight", func(t *testing.T) {
		rc := newReceiver(t, webhook.Middleware{Verifier: verifier, Store: webhook.NewMemoryStore(0, nil)})
		rc.block = make(chan struct{})
		done := make(chan int)
		go func() {
			status, _, _ := rc.post(t, signNow(t, signer, "msg_slow", body), body)
			done <- status
		}()
		for rc.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		status, _, hdr := rc.post(t, signNow(t, signer, "msg_slow", body), body)
		if status != http.StatusConflict || hdr.Get("Retry-After") == "" || !errors.Is(rc.lastErr(), webhook.ErrInFlight) {
			t.Errorf("status %d, Retry-After %q, err %v; want 409 with Retry-After and ErrInFlight", status, hdr.Get("Retry-After"), rc.lastErr())
		}
		close(rc.block)
		if s := <-done; s != http.StatusNoContent {
			t.Errorf("first status %d", s)
		}
	})
}

type failingStore struct{}

func (failingStore) Claim(context.Context, string, time.Duration) (webhook.ClaimState, error) {
	return 0, errors.New("database is down")
}
func (failingStore) Complete(context.Context, string, time.Duration) error { return nil }
func (failingStore) Release(context.Context, string) error                 { return nil }

func TestMiddlewareStoreFailure(t *testing.T) {
	p := mustProfile(t, "standard")
	rc := newReceiver(t, webhook.Middleware{Verifier: mustVerifier(t, p, []string{kaSecret}), Store: failingStore{}})
	status, text, _ := rc.post(t, signNow(t, mustSigner(t, p, kaSecret), "msg_1", []byte("{}")), []byte("{}"))
	if status != http.StatusInternalServerError || strings.Contains(text, "database") {
		t.Errorf("status %d, body %q; want 500 without internals", status, text)
	}
	if rc.calls.Load() != 0 {
		t.Error("handler called")
	}
}

func TestMiddlewareGitHubWithoutID(t *testing.T) {
	p := mustProfile(t, "github")
	rc := newReceiver(t, webhook.Middleware{Verifier: mustVerifier(t, p, []string{kaText}), Store: webhook.NewMemoryStore(0, nil)})
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	for i := range 2 {
		if status, _, _ := rc.post(t, h, []byte("Hello, World!")); status != http.StatusNoContent {
			t.Fatalf("request %d: status %d, err %v", i, status, rc.lastErr())
		}
	}
}

func TestClientAddr(t *testing.T) {
	trusted := mustPrefixes(t, "10.0.0.0/8", "2001:db8::/32")
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "192.0.2.1:1234", nil, trusted, "192.0.2.1"},
		{"direct ignores header", "192.0.2.1:1234", []string{"10.9.9.9"}, trusted, "192.0.2.1"},
		{"no trusted proxies ignores header", "10.0.0.1:1234", []string{"192.0.2.9"}, nil, "10.0.0.1"},
		{"one trusted hop", "10.0.0.1:1234", []string{"192.0.2.9"}, trusted, "192.0.2.9"},
		{"spoofed left entries ignored", "10.0.0.1:1234", []string{"1.1.1.1, 192.0.2.9, 10.0.0.2"}, trusted, "192.0.2.9"},
		{"several header lines", "10.0.0.1:1234", []string{"1.1.1.1", "192.0.2.9"}, trusted, "192.0.2.9"},
		{"all trusted takes leftmost", "10.0.0.1:1234", []string{"10.0.0.3, 10.0.0.2"}, trusted, "10.0.0.3"},
		{"ipv6 proxy", "[2001:db8::1]:443", []string{"198.51.100.7"}, trusted, "198.51.100.7"},
		{"ipv4-mapped remote", "[::ffff:192.0.2.1]:80", nil, trusted, "192.0.2.1"},
		{"garbage hop", "10.0.0.1:1234", []string{"not-an-ip"}, trusted, "invalid IP"},
		{"hop with port", "10.0.0.1:1234", []string{"192.0.2.9:5555"}, trusted, "192.0.2.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := webhook.ClientAddr(r, tc.trusted).String(); got != tc.want {
				t.Errorf("ClientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := webhook.ParsePrefixes("192.0.2.0/24", "198.51.100.7", "2001:db8::/32", " 10.1.2.3/8 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32", "10.0.0.0/8"}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "example.com"} {
		if _, err := webhook.ParsePrefixes(bad); !errors.Is(err, webhook.ErrInvalidOption) {
			t.Errorf("ParsePrefixes(%q) = %v, want ErrInvalidOption", bad, err)
		}
	}
}

func mustPrefixes(t testing.TB, s ...string) []netip.Prefix {
	t.Helper()
	p, err := webhook.ParsePrefixes(s...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{webhook.ErrMissingHeaders, 400},
		{webhook.ErrInvalidTimestamp, 400},
		{webhook.ErrInvalidSignature, 401},
		{webhook.ErrTimestampTooOld, 401},
		{webhook.ErrTimestampTooNew, 401},
		{webhook.ErrSourceNotAllowed, 403},
		{webhook.ErrBodyTooLarge, 413},
		{webhook.ErrReplay, 200},
		{webhook.ErrInFlight, 409},
		{webhook.ErrOverloaded, 503},
		{errors.New("other"), 500},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if got, _ := webhook.ErrorStatus(errWrap{tc.err}); got != tc.want {
				t.Errorf("ErrorStatus = %d, want %d", got, tc.want)
			}
		})
	}
}

type errWrap struct{ error }

func (e errWrap) Unwrap() error { return e.error }

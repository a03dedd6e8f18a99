package delivery_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// tokenServer is a real OAuth 2.0 token endpoint (client credentials) and the
// receiver that accepts only the tokens it issued and has not revoked.
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	issued  int
	valid   map[string]bool
	down    bool // answers 503
	lastReq map[string]string
	auth    string
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	ts := &tokenServer{valid: map[string]bool{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if ts.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
			return
		}
		ts.lastReq = map[string]string{}
		for k := range r.PostForm {
			ts.lastReq[k] = r.PostForm.Get(k)
		}
		ts.auth = r.Header.Get("Authorization")
		ts.issued++
		tok := fmt.Sprintf("tok-%d", ts.issued)
		ts.valid[tok] = true
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": expiresIn})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued
}

// receiver returns an endpoint that answers 401 to anything but a valid token.
func (ts *tokenServer) receiver(t *testing.T) *receiver {
	return newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		ok := ts.valid[tok]
		ts.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
}

func oauthEndpoint(ts *tokenServer) func(*hookd.Endpoint) {
	return func(ep *hookd.Endpoint) {
		ep.OAuth = &hookd.OAuthClient{TokenURL: ts.URL + "/token", ClientID: "hookd client", ClientSecret: "s3cret&more",
			AuthMethod: hookd.OAuthBasic, Scopes: []string{"webhooks:write", "read"}, Audience: "https://api.example"}
	}
}

// TestOAuthTokenReused fetches the token once for many deliveries, with the client
// credentials, scopes and audience in the token request, and again once it is due to
// expire.
func TestOAuthTokenReused(t *testing.T) {
	ts := newTokenServer(t, 3600)
	rc := ts.receiver(t)
	e := newEnv(t)
	ep := e.endpoint(rc.URL, oauthEndpoint(ts))
	for range 10 {
		m := e.send("invoice.paid", nil, `{}`)
		e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	}
	if n := ts.count(); n != 1 {
		t.Fatalf("token fetched %d times for 10 deliveries, want once", n)
	}
	ts.mu.Lock()
	got, auth := ts.lastReq, ts.auth
	ts.mu.Unlock()
	if got["scope"] != "webhooks:write read" || got["audience"] != "https://api.example" || got["client_secret"] != "" {
		t.Errorf("token request form = %v", got)
	}
	if want := "Basic " + basicOf("hookd+client", "s3cret%26more"); auth != want {
		t.Errorf("token request Authorization = %q, want %q", auth, want)
	}
	for _, r := range rc.requests() {
		if r.header.Get("Authorization") != "Bearer tok-1" {
			t.Fatalf("delivery Authorization = %q, want Bearer tok-1", r.header.Get("Authorization"))
		}
	}
	// 3600 s: refreshed a minute before the end.
	e.advance(3540 * time.Second)
	m := e.send("invoice.paid", nil, `{}`)
	e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	if n := ts.count(); n != 2 {
		t.Fatalf("token fetched %d times after expiry, want twice", n)
	}
	if last := rc.requests()[len(rc.requests())-1]; last.header.Get("Authorization") != "Bearer tok-2" {
		t.Errorf("after expiry Authorization = %q, want Bearer tok-2", last.header.Get("Authorization"))
	}
}

// TestOAuthRefreshOn401 fetches a new token once when the endpoint refuses the
// cached one with 401, within the same attempt; a second 401 fails the attempt.
func TestOAuthRefreshOn401(t *testing.T) {
	ts := newTokenServer(t, 3600)
	rc := ts.receiver(t)
	e := newEnv(t)
	ep := e.endpoint(rc.URL, oauthEndpoint(ts), func(ep *hookd.Endpoint) { ep.OAuth.AuthMethod = hookd.OAuthPost })
	m := e.send("invoice.paid", nil, `{}`)
	e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	ts.mu.Lock()
	if ts.lastReq["client_id"] != "hookd client" || ts.lastReq["client_secret"] != "s3cret&more" || ts.auth != "" {
		t.Errorf("clientSecretPost token request: form %v, Authorization %q", ts.lastReq, ts.auth)
	}
	ts.valid = map[string]bool{} // the receiver revokes every token
	ts.mu.Unlock()
	m = e.send("invoice.paid", nil, `{}`)
	e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	as := e.attempts(m.ID)
	if len(as) != 1 || ts.count() != 2 {
		t.Fatalf("after a revoke: %d attempts, %d tokens; want 1 attempt that fetched a second token", len(as), ts.count())
	}
	reqs := rc.requests()
	if n := len(reqs); n != 3 || reqs[1].header.Get("Authorization") != "Bearer tok-1" || reqs[2].header.Get("Authorization") != "Bearer tok-2" {
		t.Fatalf("receiver got %d requests, want tok-1, tok-1 (401), tok-2", n)
	}
}

// TestOAuthTokenOutage makes a failing token endpoint a failed attempt with the
// reason, without a request to the endpoint, retried on the schedule until the token
// endpoint is back.
func TestOAuthTokenOutage(t *testing.T) {
	ts := newTokenServer(t, 3600)
	ts.down = true
	rc := ts.receiver(t)
	e := newEnv(t)
	ep := e.endpoint(rc.URL, oauthEndpoint(ts), func(ep *hookd.Endpoint) { ep.RetrySchedule = "1m,1m,1m" })
	m := e.send("invoice.paid", nil, `{}`)
	for i := 1; i <= 2; i++ {
		as := e.waitAttempts(m.ID, i)
		a := as[i-1]
		if a.Status != hookd.StatusFail || !strings.Contains(a.Error, "OAuth token") || !strings.Contains(a.Error, "answered 503") {
			t.Fatalf("attempt %d = %v %q, want a failure naming the token endpoint's 503", i, a.Status, a.Error)
		}
		if i == 1 {
			e.waitDelivery(m.ID, ep.ID, hookd.StatusPending)
			e.advance(time.Minute)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the endpoint got %d requests without a token", n)
	}
	ts.mu.Lock()
	ts.down = false
	ts.mu.Unlock()
	e.waitDelivery(m.ID, ep.ID, hookd.StatusPending)
	e.advance(time.Minute)
	e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
	if as := e.attempts(m.ID); len(as) != 3 {
		t.Errorf("%d attempts, want 2 failures and the success", len(as))
	}
}

// TestOAuthTokenURLGuarded sends the token request through the SSRF guard: a token
// URL on a refused address fails the attempt with the guard's reason.
func TestOAuthTokenURLGuarded(t *testing.T) {
	ts := newTokenServer(t, 3600)
	rc := ts.receiver(t)
	e := newEnv(t, func(c *delivery.Config) {
		c.AllowPrivate = false
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	e.endpoint(rc.URL, oauthEndpoint(ts), func(ep *hookd.Endpoint) {
		ep.OAuth.TokenURL = "http://169.254.169.254/latest/token"
	})
	a := e.waitAttempts(e.send("invoice.paid", nil, `{}`).ID, 1)[0]
	if !strings.Contains(a.Error, "OAuth token") || !strings.Contains(a.Error, "refused by SSRF guard") {
		t.Fatalf("attempt error %q, want the guard's refusal of the token URL", a.Error)
	}
	if ts.count() != 0 || len(rc.requests()) != 0 {
		t.Fatal("the token endpoint or the receiver was asked")
	}
}

func basicOf(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

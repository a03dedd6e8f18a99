package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// Access is what a route lets through. Every route declares one when it is
// registered (New refuses a route without), and authorize checks it before the
// handler runs, so no handler can forget its scope check.
type Access int

// Accesses, from the most open to the narrowest.
const (
	// Public routes need no token.
	Public Access = iota + 1
	// AnyRead routes read what every valid token may see (event types, which the
	// customer portal shows).
	AnyRead
	// ServerRead routes read server-wide data: every admin key, read-only ones too.
	ServerRead
	// ServerWrite routes change server-wide data: admin keys that may write.
	ServerWrite
	// AppRead routes read one application's data (the path's app_id): every admin key,
	// and tokens of that application.
	AppRead
	// AppSecret routes read an endpoint's secret: admin keys that may write, and tokens
	// of the application with ViewEndpointSecret, ManageEndpointSecret or ManageEndpoint.
	AppSecret
	// AppRotate routes rotate an endpoint's secret: ManageEndpointSecret or
	// ManageEndpoint.
	AppRotate
	// AppAttempts routes send again (resend, recover, replay): CreateAttempts or
	// ManageEndpoint.
	AppAttempts
	// AppManage routes change endpoints: ManageEndpoint.
	AppManage
	// AppAdmin routes are inside one application but only for admin keys that may
	// write: changing the application itself, sending messages, expunging content,
	// issuing and expiring its tokens.
	AppAdmin
	// AppToken routes are for application-scoped tokens only (logout).
	AppToken
)

// appCapabilities are the capabilities an application-scoped token needs, any one of
// them, for each Access inside its application.
var appCapabilities = map[Access][]hookd.Capability{
	AppRead:     {hookd.CapViewBase},
	AppSecret:   {hookd.CapViewEndpointSecret, hookd.CapManageEndpointSecret, hookd.CapManageEndpoint},
	AppRotate:   {hookd.CapManageEndpointSecret, hookd.CapManageEndpoint},
	AppAttempts: {hookd.CapCreateAttempts, hookd.CapManageEndpoint},
	AppManage:   {hookd.CapManageEndpoint},
}

// tokenCacheTTL is how long a looked-up token is trusted without reading the store
// again: a token expired on another node stops working within this time; on this
// node at once.
const tokenCacheTTL = time.Second

// tokenCacheMax bounds the cache; it is cleared when full.
const tokenCacheMax = 10000

type cachedToken struct {
	tok *hookd.Token
	at  time.Time
}

// tokenCache keeps recently used tokens by hash.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

func (c *tokenCache) get(hash string, now time.Time) *hookd.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Sub(e.at) > tokenCacheTTL || now.Before(e.at) {
		return nil
	}
	return e.tok
}

func (c *tokenCache) put(hash string, t *hookd.Token, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = map[string]cachedToken{}
	}
	c.m[hash] = cachedToken{tok: t, at: now}
}

// clear forgets every token, after this node expired some.
func (c *tokenCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

type tokenKey struct{}

// requestToken returns the token a request was authorized with (nil on public routes).
func requestToken(r *http.Request) *hookd.Token {
	t, _ := r.Context().Value(tokenKey{}).(*hookd.Token)
	return t
}

// bearer returns the request's bearer token.
func bearer(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", hookd.Errorf(hookd.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token>")
	}
	if len(token) > hookd.MaxTokenLength {
		return "", hookd.Errorf(hookd.EUNAUTHORIZED, "invalid token: longer than %d characters", hookd.MaxTokenLength)
	}
	return token, nil
}

// authenticate finds the request's token; it never says which part was wrong, and
// never echoes the token.
func (s *Server) authenticate(r *http.Request) (*hookd.Token, error) {
	token, err := bearer(r)
	if err != nil {
		return nil, err
	}
	return s.Authenticate(r.Context(), token)
}

// Authenticate returns the stored token a bearer credential is, checked as every API
// request checks it: unknown, expired and revoked credentials are EUNAUTHORIZED. The
// dashboard and the portal check their sessions' credentials with it.
func (s *Server) Authenticate(ctx context.Context, token string) (*hookd.Token, error) {
	if len(token) > hookd.MaxTokenLength {
		return nil, hookd.Errorf(hookd.EUNAUTHORIZED, "invalid token")
	}
	hash := hookd.HashToken(token)
	now := s.now()
	t := s.tokens.get(hash, now)
	if t == nil {
		var err error
		t, err = s.store.TokenByHash(ctx, hash)
		if hookd.IsNotFound(err) {
			return nil, hookd.Errorf(hookd.EUNAUTHORIZED, "invalid token")
		}
		if err != nil {
			return nil, err
		}
		s.tokens.put(hash, t, now)
	}
	// The store found the row by its hash; comparing again in constant time keeps the
	// check itself free of timing differences whatever the store's index does.
	if !hookd.EqualHash(t.Hash, hash) {
		return nil, hookd.Errorf(hookd.EUNAUTHORIZED, "invalid token")
	}
	if t.Expired(now) {
		return nil, hookd.Errorf(hookd.EUNAUTHORIZED, "token expired")
	}
	return t, nil
}

// authorize checks that the request's token may use a route of the given access. It
// reads nothing but the token, so a refused request never touches the data.
func (s *Server) authorize(access Access, r *http.Request) (*hookd.Token, error) {
	if access == Public {
		return nil, nil
	}
	t, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if t.Kind == hookd.TokenAdmin {
		switch {
		case access == AppToken:
			return nil, hookd.Errorf(hookd.EFORBIDDEN, "only application tokens log out; expire an API key with POST /api/v1/auth/api-key/{key_id}/expire")
		case t.ReadOnly && access != AnyRead && access != ServerRead && access != AppRead:
			return nil, hookd.Errorf(hookd.EFORBIDDEN, "this API key is read-only")
		}
		return t, nil
	}
	switch access {
	case AnyRead, AppToken:
		return t, nil
	case ServerRead, ServerWrite:
		return nil, hookd.Errorf(hookd.EFORBIDDEN, "an application token cannot use server-wide routes")
	}
	if app := r.PathValue("app_id"); app != t.AppID {
		return nil, hookd.Errorf(hookd.EFORBIDDEN, "this token only reaches application %s; use its ID in the path", t.AppID)
	}
	caps, ok := appCapabilities[access]
	if !ok {
		return nil, hookd.Errorf(hookd.EFORBIDDEN, "an application token cannot do this; it needs an admin API key")
	}
	if access != AppRead && !t.Can(caps...) {
		return nil, hookd.Errorf(hookd.EFORBIDDEN, "this token lacks the capability (one of %s)", capList(caps))
	}
	return t, nil
}

func capList(caps []hookd.Capability) string {
	s := make([]string, len(caps))
	for i, c := range caps {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// checkAppScope refuses an application that the request's token does not reach. The
// route's check already compared the path; this holds even if a handler reaches an
// application some other way.
func checkAppScope(r *http.Request, a *hookd.Application) error {
	if t := requestToken(r); t != nil && t.Kind == hookd.TokenApp && t.AppID != a.ID {
		return hookd.Errorf(hookd.EFORBIDDEN, "this token only reaches application %s", t.AppID)
	}
	return nil
}

func withToken(r *http.Request, t *hookd.Token) *http.Request {
	if t == nil {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, t))
}

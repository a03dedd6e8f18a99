package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/valyala/fasthttp"
)

// OAuth tokens are used until shortly before they expire: tokenMargin before, or a
// tenth of their lifetime if that is shorter.
const tokenMargin = time.Minute

// maxTokenBytes bounds a token endpoint's answer.
const maxTokenBytes = 64 << 10

// maxTokenSources bounds the cached tokens; the cache starts again when it is full.
const maxTokenSources = 10000

// tokens caches the OAuth access tokens of endpoints, one source per endpoint and
// configuration, so that concurrent deliveries fetch a token once.
type tokens struct {
	mu sync.Mutex
	m  map[[32]byte]*tokenSource
}

// tokenSource is one endpoint's token; mu is held while it is fetched.
type tokenSource struct {
	mu      sync.Mutex
	token   string
	refresh time.Time // when to fetch a new one; zero: only after a 401
}

// source returns the token source of an endpoint's OAuth configuration.
func (t *tokens) source(epID string, o *hookd.OAuthClient) *tokenSource {
	h := sha256.New()
	b, _ := json.Marshal(o)
	h.Write([]byte(epID))
	h.Write([]byte{0})
	h.Write(b)
	var key [32]byte
	h.Sum(key[:0])
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= maxTokenSources {
		t.m = map[[32]byte]*tokenSource{}
	}
	s, ok := t.m[key]
	if !ok {
		s = &tokenSource{}
		t.m[key] = s
	}
	return s
}

// errToken marks a failure to get a token, which fails the attempt before the
// endpoint is asked.
var errToken = errors.New("OAuth token")

// oauthToken returns the endpoint's access token: the cached one unless it is due for
// refresh or stale (the one the endpoint just refused with 401), else a new one from
// the token endpoint, fetched through the SSRF-guarded client.
func (d *Dispatcher) oauthToken(ctx context.Context, info *endpointInfo, stale string) (string, error) {
	src := d.tokens.source(info.ep.ID, info.ep.OAuth)
	src.mu.Lock()
	defer src.mu.Unlock()
	now := d.cfg.Now()
	if src.token != "" && src.token != stale && (src.refresh.IsZero() || now.Before(src.refresh)) {
		return src.token, nil
	}
	token, lifetime, err := d.fetchToken(ctx, info)
	if err != nil {
		return "", err
	}
	src.token, src.refresh = token, time.Time{}
	if lifetime > 0 {
		src.refresh = now.Add(lifetime - min(tokenMargin, lifetime/10))
	}
	return token, nil
}

// tokenAnswer is a token endpoint's answer (RFC 6749 section 5.1 and 5.2).
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   *int64 `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// fetchToken asks the endpoint's token URL for a token with the client credentials
// grant (RFC 6749 section 4.4) and returns it with its lifetime (0: not given).
func (d *Dispatcher) fetchToken(ctx context.Context, info *endpointInfo) (string, time.Duration, error) {
	o := info.ep.OAuth
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(o.Scopes) > 0 {
		form.Set("scope", strings.Join(o.Scopes, " "))
	}
	if o.Audience != "" {
		form.Set("audience", o.Audience)
	}
	for k, v := range o.ExtraParams {
		form.Set(k, v)
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(http.MethodPost)
	req.SetRequestURI(o.TokenURL)
	for k, v := range o.ExtraHeaders {
		req.Header.Set(k, v)
	}
	if o.AuthMethod == hookd.OAuthPost {
		form.Set("client_id", o.ClientID)
		form.Set("client_secret", o.ClientSecret)
	} else {
		// RFC 6749 section 2.3.1: both form-encoded, then Basic.
		req.Header.Set("Authorization", "Basic "+basic(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret)))
	}
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.SetUserAgent(d.cfg.UserAgent)
	req.SetBodyString(form.Encode())
	if err := d.client.fc.DoTimeout(req, resp, info.timeout); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", 0, fmt.Errorf("%w: token endpoint %s: %s", errToken, hostOf(o.TokenURL), describe(err, info.timeout))
	}
	body, err := readBody(resp, maxTokenBytes)
	if err != nil {
		return "", 0, fmt.Errorf("%w: reading the token endpoint's answer: %s", errToken, describe(err, info.timeout))
	}
	var ans tokenAnswer
	jsonErr := json.Unmarshal(body, &ans)
	if code := resp.StatusCode(); code != http.StatusOK {
		why := ""
		if jsonErr == nil && ans.Error != "" {
			why = ": " + clipText(strings.TrimSpace(ans.Error+" "+ans.Description), 200)
		}
		return "", 0, fmt.Errorf("%w: token endpoint %s answered %d%s", errToken, hostOf(o.TokenURL), code, why)
	}
	if jsonErr != nil || ans.AccessToken == "" {
		return "", 0, fmt.Errorf("%w: token endpoint %s answered 200 without an access_token", errToken, hostOf(o.TokenURL))
	}
	if ans.TokenType != "" && !strings.EqualFold(ans.TokenType, "bearer") {
		return "", 0, fmt.Errorf("%w: token endpoint %s gave a %q token; hookd sends bearer tokens", errToken, hostOf(o.TokenURL), ans.TokenType)
	}
	var lifetime time.Duration
	if ans.ExpiresIn != nil && *ans.ExpiresIn > 0 {
		lifetime = time.Duration(min(*ans.ExpiresIn, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	return ans.AccessToken, lifetime, nil
}

// hostOf returns the host of a URL, for messages that must not carry its query.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "(invalid URL)"
}

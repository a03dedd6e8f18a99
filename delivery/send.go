package delivery

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
	"github.com/valyala/fasthttp"
)

// endpointInfo is an endpoint with what sending to it needs, cached together.
type endpointInfo struct {
	ep      *hookd.Endpoint
	url     *url.URL // ep.URL parsed once, or nil with urlErr
	urlErr  error
	target  string // url without user information and fragment: what is requested
	timeout time.Duration
	trusted bool // the operator's operational endpoint: not subject to the SSRF guard
	// insecure says why the endpoint's http:// URL may not be sent to, "" if it may.
	insecure string
	relay    bool // a relay endpoint: sent through d.cfg.Relay, not over the network

	signer  *webhook.Signer
	signErr error
	keys    []string // the keys signer signs with
}

// ForgetEndpoint drops what the dispatcher cached of an endpoint, so the next delivery
// to it reads it again: the API calls it after every change, so a rotated secret signs
// the very next delivery this node makes.
func (d *Dispatcher) ForgetEndpoint(appID, endpointID string) {
	d.endpoints.forget(endpointKey(appID, endpointID))
}

// endpointKey is an endpoint's key in the dispatcher's endpoint cache.
func endpointKey(appID, endpointID string) string { return appID + "/" + endpointID }

// maxDrainBytes is how much of a response body beyond the stored part is read so the
// connection can be reused; longer bodies close the connection instead.
const maxDrainBytes = 64 << 10

// abortHeader lets a receiver stop the retries of a delivery.
const abortHeader = "Webhook-Abort-Retries"

// endpoint returns the endpoint of a delivery, from the cache when fresh.
func (d *Dispatcher) endpoint(ctx context.Context, appID, endpointID string) (*endpointInfo, error) {
	now := d.cfg.Now()
	info, err := d.endpoints.get(endpointKey(appID, endpointID), now, func() (*endpointInfo, error) {
		ep, err := d.store.Endpoint(ctx, appID, endpointID)
		if err != nil {
			return nil, err
		}
		info := &endpointInfo{ep: ep, timeout: d.cfg.RequestTimeout, relay: ep.IsRelay()}
		if !info.relay {
			info.url, info.urlErr = hookd.ParseEndpointURL(ep.URL)
		}
		if info.url != nil {
			info.target = requestTarget(info.url)
		}
		if ep.Timeout > 0 {
			info.timeout = ep.Timeout
		}
		if d.isOperational(ctx, appID) {
			info.trusted = true
		}
		if info.url != nil && info.url.Scheme != "https" && !info.trusted {
			info.insecure = d.httpsRequired(ctx, appID, now)
		}
		if ep.ClientCert != nil {
			d.checkCertExpiry(ctx, ep, now)
		}
		for {
			m := d.maxTimeout.Load()
			if int64(info.timeout) <= m || d.maxTimeout.CompareAndSwap(m, int64(info.timeout)) {
				break
			}
		}
		return info, nil
	})
	if err != nil {
		return nil, err
	}
	// Keys leave the signing set when their grace period ends, and a pending key
	// takes over then; rebuild the signer when the set changes. The cached entry is
	// shared, so build a new one rather than mutate it.
	keys := info.ep.SigningKeys(now)
	if info.signer == nil && info.signErr == nil || !slices.Equal(keys, info.keys) {
		fresh := *info
		fresh.keys = keys
		fresh.signer, fresh.signErr = d.newSigner(info.ep.SignatureProfile, info.ep.SignatureHeader, keys)
		old := info
		d.endpoints.replace(endpointKey(appID, endpointID), func(v *endpointInfo) bool { return v == old }, &fresh)
		info = &fresh
	}
	return info, nil
}

// httpsRequired says what requires HTTPS of appID's endpoints, "" if nothing does.
func (d *Dispatcher) httpsRequired(ctx context.Context, appID string, now time.Time) string {
	if d.cfg.RequireHTTPS {
		return "the server requires HTTPS (--require-https)"
	}
	app, err := d.apps.get(appID, now, func() (*hookd.Application, error) { return d.store.App(ctx, appID) })
	if err == nil && app.RequireHTTPS {
		return "the application requires HTTPS (requireHttps)"
	}
	return ""
}

// newSigner returns the signer for a profile name, an optional signature header in
// place of the profile's, and keys.
func (d *Dispatcher) newSigner(profile, header string, keys []string) (*webhook.Signer, error) {
	if profile == "" {
		profile = "standard"
	}
	if d.cfg.SvixHeaders {
		switch profile {
		case "standard":
			profile = "svix"
		case "standard-ed25519":
			profile = "svix-ed25519"
		}
	}
	p, err := webhook.LookupProfile(profile)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("endpoint has no signing secret")
	}
	if header != "" {
		p = p.WithSignatureHeader(header)
	}
	return webhook.NewSigner(p, keys...)
}

// response is what one request brought back.
type response struct {
	start      time.Time
	duration   time.Duration
	code       int
	body       string
	retryAfter time.Duration // from a Retry-After header, clamped; 0 if none
	abort      bool
	err        string // why there is no usable response, "" otherwise
	headers    *hookd.AttemptHeaders
}

// send makes one request for dl. It never returns an error: what went wrong is in
// the response, for the attempt log.
func (d *Dispatcher) send(ctx context.Context, info *endpointInfo, dl *hookd.Delivery) response {
	start := d.cfg.Now()
	r := response{start: start}
	if info.signErr != nil {
		r.err = "cannot sign: " + info.signErr.Error()
		return r
	}
	if info.urlErr != nil {
		r.err = hookd.ErrorMessage(info.urlErr)
		return r
	}
	if info.insecure != "" {
		r.err = "refused: the endpoint URL is http:// but " + info.insecure
		d.log.Warn("delivery refused", "app", dl.AppID, "endpoint", dl.EndpointID, "msg", dl.MsgID, "reason", r.err)
		return r
	}
	var body []byte
	if dl.Message != nil {
		body = dl.Message.Payload
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if info.relay {
		return d.sendRelay(ctx, info, dl, body, r)
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(http.MethodPost)
	req.SetRequestURI(info.target)
	h := &req.Header
	for k, v := range info.ep.Headers {
		h.Set(k, v)
	}
	h.SetContentType("application/json")
	h.SetUserAgent(d.cfg.UserAgent)
	info.signer.SignTo(h, dl.MsgID, start, body)
	req.SetBodyRaw(body)

	c := d.client
	if info.trusted {
		c = d.trust
	}
	fc := c.fc
	var tcl *tlsClient
	if info.url.Scheme == "https" {
		var err error
		if tcl, err = c.forTLS(info.ep.ClientCert, info.ep.ServerCA); err != nil {
			r.err = err.Error()
			return r
		}
		if tcl != nil {
			fc = tcl.fc
		}
	}
	var token string
	if info.ep.OAuth != nil && !info.trusted {
		var err error
		if token, err = d.oauthToken(ctx, info, ""); err != nil {
			r.duration = d.cfg.Now().Sub(start)
			r.err = err.Error()
			return r
		}
		h.Set("Authorization", "Bearer "+token)
	}
	err := fc.DoTimeout(req, resp, info.timeout)
	if err == nil && token != "" && resp.StatusCode() == http.StatusUnauthorized {
		// The token may have been revoked or expired early: fetch a new one and try
		// once more, within the same attempt.
		_ = resp.CloseBodyStream()
		resp.Reset()
		fresh, terr := d.oauthToken(ctx, info, token)
		if terr != nil {
			r.duration = d.cfg.Now().Sub(start)
			r.err = "the endpoint answered 401 and a new token failed: " + terr.Error()
			return r
		}
		h.Set("Authorization", "Bearer "+fresh)
		err = fc.DoTimeout(req, resp, info.timeout)
	}
	r.headers = sentHeaders(info, req.Header.VisitAll, d.cfg.MaxAttemptHeaderBytes)
	if err == nil {
		r.headers.Response = responseHeaders(resp.Header.VisitAll, d.cfg.MaxAttemptHeaderBytes)
	}
	if err != nil && tcl != nil {
		err = tcl.cause(err)
	} else if tcl != nil {
		tcl.alert.Store(nil)
	}
	if err != nil {
		r.duration = d.cfg.Now().Sub(start)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		r.err = describe(err, info.timeout)
		return r
	}
	buf, err := readBody(resp, d.cfg.MaxResponseBytes)
	r.duration = d.cfg.Now().Sub(start)
	r.code = resp.StatusCode()
	r.body = clipText(hookd.StorableText(string(buf)), d.cfg.MaxResponseBytes)
	if err != nil && (r.code < 200 || r.code > 299) {
		// A failure either way; say why the body is cut short.
		r.err = "reading response: " + describe(err, info.timeout)
	}
	if throttling(r.code) {
		r.retryAfter = retryAfter(string(resp.Header.Peek("Retry-After")), d.cfg.Now())
	}
	r.abort = strings.EqualFold(strings.TrimSpace(string(resp.Header.Peek(abortHeader))), "true")
	return r
}

// clipText cuts s, valid UTF-8, to at most n bytes on a character boundary: replacing
// invalid bytes may have made it longer than the bytes read.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Retry-After values are clamped to this range: a receiver may slow hookd down but
// not make it hammer nor give up.
const (
	minRetryAfter = time.Second
	maxRetryAfter = time.Hour
)

// retryAfter parses a Retry-After value (seconds or an HTTP date), clamped to
// [minRetryAfter, maxRetryAfter]; 0 if absent or malformed.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, minRetryAfter), maxRetryAfter)
}

// describe turns a request error into a short reason for the attempt log.
func describe(err error, timeout time.Duration) string {
	var refused *RefusedError
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fasthttp.ErrTimeout),
		errors.Is(err, fasthttp.ErrDialTimeout), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout: no complete response within %s", timeout)
	case errors.Is(err, context.Canceled), errors.Is(err, errClientClosed):
		return "cancelled: hookd was shutting down"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.As(err, &dnsErr):
		return "DNS lookup failed: " + dnsErr.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, fasthttp.ErrConnectionClosed):
		return "connection closed before a complete response"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

// requestTarget returns the URL a request for u is sent to: u without its fragment.
// (ParseEndpointURL refuses user information.)
func requestTarget(u *url.URL) string {
	t := *u
	t.Fragment, t.RawFragment = "", ""
	return t.String()
}

// basic returns the credentials of HTTP Basic authentication (RFC 7617).
func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

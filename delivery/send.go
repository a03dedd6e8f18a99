package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
)

// endpointInfo is an endpoint with what sending to it needs, cached together.
type endpointInfo struct {
	ep      *hookd.Endpoint
	url     *url.URL // ep.URL parsed once, or nil with urlErr
	urlErr  error
	timeout time.Duration
	trusted bool // the operator's operational endpoint: not subject to the SSRF guard

	signer  *webhook.Signer
	signErr error
	nkeys   int // how many keys signer signs with
}

// maxDrainBytes is how much of a response body beyond the stored part is read so the
// connection can be reused; longer bodies close the connection instead.
const maxDrainBytes = 64 << 10

// abortHeader lets a receiver stop the retries of a delivery.
const abortHeader = "Webhook-Abort-Retries"

// endpoint returns the endpoint of a delivery, from the cache when fresh.
func (d *Dispatcher) endpoint(ctx context.Context, appID, endpointID string) (*endpointInfo, error) {
	now := d.cfg.Now()
	info, err := d.endpoints.get(appID+"/"+endpointID, now, func() (*endpointInfo, error) {
		ep, err := d.store.Endpoint(ctx, appID, endpointID)
		if err != nil {
			return nil, err
		}
		info := &endpointInfo{ep: ep, timeout: d.cfg.RequestTimeout}
		info.url, info.urlErr = parseURL(ep.URL)
		if ep.Timeout > 0 {
			info.timeout = ep.Timeout
		}
		if ops := d.opsTarget(); ops != nil && ops.appID == appID {
			info.trusted = true
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
	// Keys leave the signing set when their grace period ends; rebuild the signer
	// then. The cached entry is shared, so build a new one rather than mutate it.
	keys := info.ep.SigningKeys(now)
	if info.signer == nil && info.signErr == nil || len(keys) != info.nkeys {
		fresh := *info
		fresh.nkeys = len(keys)
		fresh.signer, fresh.signErr = d.newSigner(info.ep.SignatureProfile, keys)
		d.endpoints.mu.Lock()
		if e, ok := d.endpoints.m[appID+"/"+endpointID]; ok && e.v == info {
			e.v = &fresh
			d.endpoints.m[appID+"/"+endpointID] = e
		}
		d.endpoints.mu.Unlock()
		info = &fresh
	}
	return info, nil
}

// newSigner returns the signer for a profile name and keys.
func (d *Dispatcher) newSigner(profile string, keys []string) (*webhook.Signer, error) {
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
	return webhook.NewSigner(p, keys...)
}

// newClient returns an HTTP client that dials through g and never follows redirects.
func newClient(cfg Config, g Guard) *http.Client {
	t := &http.Transport{
		Proxy:             nil, // a proxy would be dialled instead of the endpoint, bypassing the guard
		DialContext:       g.dialer().DialContext,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      cfg.Workers,
		// Idle connections are pooled per host, and many endpoints often share one
		// (a customer's API with several paths): a smaller bound closes and re-dials
		// connections at every burst.
		MaxIdleConnsPerHost:    cfg.Workers,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		// Only the start of a response body is kept, for the attempt log: asking for
		// gzip would only add a header and a decompressor to every request.
		DisableCompression: true,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// newRequest returns a POST of body to u, as http.NewRequestWithContext would make it
// from u's text, without parsing the URL again for every request.
func newRequest(ctx context.Context, u *url.URL, body []byte, headers int) *http.Request {
	dest := *u // the request's own copy: the parsed URL is shared
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           &dest,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, headers),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          strings.TrimSuffix(dest.Host, ":"),
	}).WithContext(ctx)
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return req
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
		r.err = info.urlErr.Error()
		return r
	}
	var body []byte
	if dl.Message != nil {
		body = dl.Message.Payload
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	ctx, cancel := context.WithTimeout(ctx, info.timeout)
	defer cancel()
	req := newRequest(ctx, info.url, body, len(info.ep.Headers)+6)
	h := req.Header
	for k, v := range info.ep.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", d.cfg.UserAgent)
	info.signer.Sign(h, dl.MsgID, start, body)

	client := d.client
	if info.trusted {
		client = d.trust
	}
	resp, err := client.Do(req)
	if err != nil {
		r.duration = d.cfg.Now().Sub(start)
		r.err = describe(err, info.timeout)
		return r
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, int64(d.cfg.MaxResponseBytes)))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	}
	resp.Body.Close()
	r.duration = d.cfg.Now().Sub(start)
	r.code = resp.StatusCode
	r.body = strings.ToValidUTF8(string(buf), string(utf8.RuneError))
	if err != nil && (r.code < 200 || r.code > 299) {
		// A failure either way; say why the body is cut short.
		r.err = "reading response: " + describe(err, info.timeout)
	}
	if r.code == http.StatusTooManyRequests || r.code == http.StatusServiceUnavailable {
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), d.cfg.Now())
	}
	r.abort = strings.EqualFold(strings.TrimSpace(resp.Header.Get(abortHeader)), "true")
	return r
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
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout: no complete response within %s", timeout)
	case errors.Is(err, context.Canceled):
		return "cancelled: hookd was shutting down"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.As(err, &dnsErr):
		return "DNS lookup failed: " + dnsErr.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a complete response"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

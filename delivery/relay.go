package delivery

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// sendRelay hands one delivery of a relay endpoint to its listener instead of making
// a request: the same headers, signature and body, and the listener's answer is the
// response, with the endpoint's timeout from the hand-over to the answer.
func (d *Dispatcher) sendRelay(ctx context.Context, info *endpointInfo, dl *hookd.Delivery, body []byte, r response) response {
	if d.cfg.Relay == nil {
		r.err = "relay endpoints are not served by this node"
		return r
	}
	h := http.Header{}
	for k, v := range info.ep.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", d.cfg.UserAgent)
	info.signer.SignTo(h, dl.MsgID, r.start, body)
	req := &hookd.RelayRequest{AppID: dl.AppID, EndpointID: dl.EndpointID, MsgID: dl.MsgID, Header: h, Body: body}
	if dl.Message != nil {
		req.EventType = dl.Message.EventType
	}
	if _, rest, ok := strings.Cut(strings.TrimPrefix(info.ep.URL, hookd.RelayScheme+"://"), "/"); ok {
		req.Path = "/" + rest
	}
	ctx, cancel := context.WithTimeout(ctx, info.timeout)
	defer cancel()
	resp, err := d.cfg.Relay.Forward(ctx, req)
	r.headers = sentHeaders(info, visitHeader(h), d.cfg.MaxAttemptHeaderBytes)
	r.duration = d.cfg.Now().Sub(r.start)
	switch {
	case err != nil:
		r.err = err.Error()
		return r
	case resp.Error != "":
		r.err = "relay: " + resp.Error
		return r
	}
	b := resp.Body
	if len(b) > d.cfg.MaxResponseBytes && d.cfg.MaxResponseBytes > 0 {
		b = b[:d.cfg.MaxResponseBytes]
	}
	r.code = resp.Status
	r.body = strings.ToValidUTF8(string(b), string(utf8.RuneError))
	rh := http.Header(resp.Header)
	r.headers.Response = responseHeaders(visitHeader(rh), d.cfg.MaxAttemptHeaderBytes)
	if r.code == http.StatusTooManyRequests || r.code == http.StatusServiceUnavailable {
		r.retryAfter = retryAfter(rh.Get("Retry-After"), d.cfg.Now())
	}
	r.abort = strings.EqualFold(strings.TrimSpace(rh.Get(abortHeader)), "true")
	return r
}

package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Headers hookd sets itself, which an endpoint's custom headers may not replace.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "transfer-encoding": true,
	"connection": true, "user-agent": true, "te": true, "upgrade": true, "trailer": true,
}

// Headers whose values GET …/headers does not show.
var sensitiveHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "x-api-key": true,
}

type endpointHeadersIn struct {
	Headers map[string]string `json:"headers"`
}

// endpointHeadersPatchIn merges headers into the endpoint's; a header named in
// deleteHeaders, or given a null value, is removed.
type endpointHeadersPatchIn struct {
	Headers       map[string]*string `json:"headers"`
	DeleteHeaders []string           `json:"deleteHeaders"`
}

// maxHeaders is how many custom headers an endpoint may have.
const maxHeaders = 100

// checkHeaders validates a whole set of custom headers.
func checkHeaders(h map[string]string) error {
	if len(h) > maxHeaders {
		return invalid("headers", "an endpoint may have at most 100 custom headers")
	}
	for k, v := range h {
		if err := checkHeader(k, v); err != nil {
			return err
		}
	}
	return nil
}

type endpointHeadersOut struct {
	Headers   map[string]string `json:"headers"`
	Sensitive []string          `json:"sensitive"`
}

func checkHeader(name, value string) error {
	field := "headers"
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r)
	}) {
		return invalid(field, "header name "+quote(name)+" is not a valid HTTP header name")
	}
	lower := strings.ToLower(name)
	if reservedHeaders[lower] || strings.HasPrefix(lower, "webhook-") || strings.HasPrefix(lower, "svix-") {
		return invalid(field, "header "+quote(name)+" is set by hookd and cannot be overridden")
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return invalid(field, "the value of header "+quote(name)+" contains a line break or NUL")
	}
	return nil
}

func quote(s string) string { return `"` + s + `"` }

func (s *Server) getEndpointHeaders(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	out := endpointHeadersOut{Headers: map[string]string{}, Sensitive: []string{}}
	for k, v := range e.Headers {
		if sensitiveHeaders[strings.ToLower(k)] {
			out.Sensitive = append(out.Sensitive, k)
			continue
		}
		out.Headers[k] = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateEndpointHeaders(w http.ResponseWriter, r *http.Request) error {
	var in endpointHeadersIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Headers == nil {
		return invalid("headers", "headers is required")
	}
	if err := checkHeaders(in.Headers); err != nil {
		return err
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	e.Headers = in.Headers
	return s.saveHeaders(w, r, a, e)
}

// patchEndpointHeaders merges headers into the endpoint's; a null value removes one.
func (s *Server) patchEndpointHeaders(w http.ResponseWriter, r *http.Request) error {
	var in endpointHeadersPatchIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Headers == nil {
		return invalid("headers", "headers is required")
	}
	for k, v := range in.Headers {
		val := ""
		if v != nil {
			val = *v
		}
		if err := checkHeader(k, val); err != nil {
			return err
		}
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	for k, v := range in.Headers {
		if v == nil {
			deleteHeader(e.Headers, k)
			continue
		}
		e.Headers[k] = *v
	}
	for _, k := range in.DeleteHeaders {
		deleteHeader(e.Headers, k)
	}
	return s.saveHeaders(w, r, a, e)
}

// deleteHeader removes the header named name from h, whatever the case of its name.
func deleteHeader(h map[string]string, name string) {
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
}

func (s *Server) saveHeaders(w http.ResponseWriter, r *http.Request, a *hookd.Application, e *hookd.Endpoint) error {
	if len(e.Headers) > maxHeaders {
		return invalid("headers", "an endpoint may have at most 100 custom headers")
	}
	e.UpdatedAt = s.now()
	if err := s.store.UpdateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.updated", a, e)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type endpointSecretOut struct {
	Key string `json:"key"`
}

func (s *Server) getEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if len(e.Secrets) == 0 {
		return hookd.Errorf(hookd.EINTERNAL, "endpoint has no secret")
	}
	writeJSON(w, http.StatusOK, endpointSecretOut{Key: e.Secrets[0].Key})
	return nil
}

type endpointSecretRotateIn struct {
	Key                *string `json:"key"`
	GracePeriodSeconds *int64  `json:"gracePeriodSeconds"`
}

// rotateEndpointSecret makes a new secret current; the previous one keeps signing for
// the grace period, and secrets whose grace period is over are dropped.
func (s *Server) rotateEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	var in endpointSecretRotateIn
	if err := decode(r, &in); err != nil {
		return err
	}
	grace := s.cfg.RotationGrace
	if in.GracePeriodSeconds != nil {
		if *in.GracePeriodSeconds < 0 || *in.GracePeriodSeconds > 7*24*3600 {
			return invalid("gracePeriodSeconds", "gracePeriodSeconds must be between 0 and 604800 (7 days)")
		}
		grace = time.Duration(*in.GracePeriodSeconds) * time.Second
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	p, err := checkProfile("signatureProfile", e.SignatureProfile)
	if err != nil {
		return err
	}
	var key string
	if in.Key != nil && *in.Key != "" {
		key, err = checkSecret("key", *in.Key, p)
	} else {
		key, err = newSecret(p)
	}
	if err != nil {
		return err
	}
	now := s.now()
	expires := now.Add(grace)
	secrets := []hookd.Secret{{Key: key}}
	for i, old := range e.Secrets {
		switch {
		case i == 0 && old.ExpiresAt == nil:
			if grace > 0 {
				secrets = append(secrets, hookd.Secret{Key: old.Key, ExpiresAt: &expires})
			}
		case old.ExpiresAt != nil && now.Before(*old.ExpiresAt):
			secrets = append(secrets, old)
		}
	}
	e.Secrets = secrets
	e.UpdatedAt = now
	if err := s.store.UpdateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.updated", a, e)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type endpointStatsOut struct {
	Success int64 `json:"success"`
	Pending int64 `json:"pending"`
	Sending int64 `json:"sending"`
	Fail    int64 `json:"fail"`
	// Canceled is in the Svix contract; hookd never cancels a delivery, so it is 0.
	Canceled int64 `json:"canceled"`
}

// endpointStats counts the endpoint's deliveries by status. since and until are
// accepted for compatibility; the counts cover all retained deliveries.
func (s *Server) endpointStats(w http.ResponseWriter, r *http.Request) error {
	for _, name := range []string{"since", "until"} {
		if _, err := queryTime(r, name); err != nil {
			return err
		}
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	st, err := s.store.EndpointStats(r.Context(), a.ID, e.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpointStatsOut{Success: st.Success, Pending: st.Pending, Sending: st.Sending, Fail: st.Fail})
	return nil
}

// recoverIn is the body of recover and replay-missing.
type recoverIn struct {
	Since *time.Time `json:"since"`
	Until *time.Time `json:"until"`
}

func (in *recoverIn) check() error {
	if in.Since == nil {
		return invalid("since", "since is required")
	}
	if in.Until != nil && !in.Until.After(*in.Since) {
		return invalid("until", "until must be after since")
	}
	return nil
}

// backgroundTaskOut is Svix's RecoverOut / ReplayOut. hookd does the work before
// answering, so the task is always finished.
type backgroundTaskOut struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Task   string `json:"task"`
}

// recoverEndpoint makes every failed delivery of the endpoint since a time due again.
func (s *Server) recoverEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in recoverIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	var until time.Time
	if in.Until != nil {
		until = *in.Until
	}
	if _, err := s.store.RecoverDeliveries(r.Context(), a.ID, e.ID, *in.Since, until, s.now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, backgroundTaskOut{ID: s.cfg.IDs.New(hookd.PrefixTask), Status: "finished", Task: "endpoint.recover"})
	return nil
}

// replayMissing sends the endpoint every message since a time that it matches but
// never received (for example while it was disabled).
func (s *Server) replayMissing(w http.ResponseWriter, r *http.Request) error {
	var in recoverIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	filter := hookd.MessageFilter{After: in.Since.Add(-time.Nanosecond)}
	if in.Until != nil {
		filter.Before = *in.Until
	}
	now := s.now()
	p := hookd.Page{Limit: maxLimit, Ascending: true}
	for {
		msgs, err := s.store.Messages(ctx, a.ID, filter, p)
		if err != nil {
			return err
		}
		// No hand-off: CreateDeliveries skips the messages the endpoint has already,
		// and a delivery taken before the write would be sent whether stored or not.
		var dlvs []*hookd.Delivery
		for _, m := range msgs {
			dlvs = append(dlvs, hookd.FanOut(m, []*hookd.Endpoint{e}, now, hookd.TriggerManual, s.cfg.IDs)...)
		}
		if len(dlvs) > 0 {
			if _, err := s.store.CreateDeliveries(ctx, dlvs); err != nil {
				return err
			}
		}
		if len(msgs) < p.Limit {
			break
		}
		p.Iterator = msgs[len(msgs)-1].ID
	}
	writeJSON(w, http.StatusAccepted, backgroundTaskOut{ID: s.cfg.IDs.New(hookd.PrefixTask), Status: "finished", Task: "endpoint.replay"})
	return nil
}

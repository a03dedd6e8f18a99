package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/task"
	"github.com/hookd/hookd/webhook"
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

// endpointSecretOut is the key a receiver verifies with. For Ed25519 profiles that is
// the public key ("whpk_…"): the private key never leaves hookd. NextKey and SwitchAt
// (hookd extensions, present only then) announce a rotation on a one-signature
// profile: Key keeps signing until SwitchAt, NextKey signs from then on.
type endpointSecretOut struct {
	Key      string     `json:"key"`
	NextKey  string     `json:"nextKey,omitempty"`
	SwitchAt *time.Time `json:"switchAt,omitempty"`
}

// verifyingKey returns what a receiver verifies a signing key with.
func verifyingKey(p webhook.Profile, key string) (string, error) {
	if p.Algorithm != webhook.Ed25519 {
		return key, nil
	}
	pub, err := webhook.Ed25519PublicKey(key)
	if err != nil {
		return "", &hookd.Error{Code: hookd.EINTERNAL, Message: "the endpoint's key does not parse", Err: err}
	}
	return pub, nil
}

func (s *Server) getEndpointSecret(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	p, err := checkProfile("signatureProfile", e.SignatureProfile)
	if err != nil {
		return err
	}
	now := s.now()
	signing := e.SigningKeys(now)
	if len(signing) == 0 {
		return hookd.Errorf(hookd.EINTERNAL, "endpoint has no secret")
	}
	var out endpointSecretOut
	if out.Key, err = verifyingKey(p, signing[0]); err != nil {
		return err
	}
	if next := e.PendingSecret(now); next != nil {
		if out.NextKey, err = verifyingKey(p, next.Key); err != nil {
			return err
		}
		at := next.NotBefore.UTC()
		out.SwitchAt = &at
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type endpointSecretRotateIn struct {
	Key                *string `json:"key"`
	GracePeriodSeconds *int64  `json:"gracePeriodSeconds"`
}

// rotateEndpointSecret rotates in a new secret (see hookd.Endpoint.RotateSecret for
// how profiles with one signature switch), and makes this node's dispatcher sign the
// next delivery with the new set at once.
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
	e.RotateSecret(key, now, grace, p.MultiSignature)
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

// endpointStats counts the endpoint's deliveries by status: those of the messages
// created in [since, until), each side open when absent.
func (s *Server) endpointStats(w http.ResponseWriter, r *http.Request) error {
	var ids [2]string
	for i, name := range []string{"since", "until"} {
		t, err := queryTime(r, name)
		if err != nil {
			return err
		}
		if !t.IsZero() {
			ids[i] = hookd.IDAt(hookd.PrefixMessage, t)
		}
	}
	if ids[0] != "" && ids[1] != "" && ids[0] > ids[1] {
		return invalidQuery("until", "until must not be before since")
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	st, err := s.store.EndpointStats(r.Context(), a.ID, e.ID, ids[0], ids[1])
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

// recoverEndpoint starts a task that makes every failed delivery of the endpoint
// since a time due again.
func (s *Server) recoverEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in recoverIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	return s.startTask(w, r, hookd.TaskRecover, task.Params{Since: *in.Since, Until: in.Until})
}

// replayMissing starts a task that sends the endpoint every message since a time that
// it matches but never received (for example while it was disabled).
func (s *Server) replayMissing(w http.ResponseWriter, r *http.Request) error {
	var in recoverIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	return s.startTask(w, r, hookd.TaskReplay, task.Params{Since: *in.Since, Until: in.Until})
}

// bulkReplayIn is Svix's BulkReplayIn.
type bulkReplayIn struct {
	Since           *time.Time    `json:"since"`
	Until           *time.Time    `json:"until"`
	EventTypes      []string      `json:"eventTypes"`
	Channel         *string       `json:"channel"`
	Tag             *string       `json:"tag"`
	Status          *hookd.Status `json:"status"`
	StatusCodeClass *int          `json:"statusCodeClass"`
}

// bulkReplay starts a task that resends to the endpoint every message of a time
// window that was sent to it, narrowed by event types, channel, tag, the delivery's
// status or the status code class of its attempts.
func (s *Server) bulkReplay(w http.ResponseWriter, r *http.Request) error {
	var in bulkReplayIn
	if err := decode(r, &in); err != nil {
		return err
	}
	rin := recoverIn{Since: in.Since, Until: in.Until}
	if err := rin.check(); err != nil {
		return err
	}
	p := task.Params{Since: *in.Since, Until: in.Until, Status: in.Status, StatusCodeClass: in.StatusCodeClass}
	if err := hookd.CheckNames("eventTypes", in.EventTypes, 256); err != nil {
		return err
	}
	p.EventTypes = in.EventTypes
	if in.Channel != nil {
		if err := hookd.CheckName("channel", *in.Channel, 128); err != nil {
			return err
		}
		p.Channel = *in.Channel
	}
	if in.Tag != nil {
		if *in.Tag == "" || len(*in.Tag) > 128 {
			return invalid("tag", "tag must be 1 to 128 characters")
		}
		p.Tag = *in.Tag
	}
	if in.Status != nil && (*in.Status < hookd.StatusSuccess || *in.Status > 4) {
		return invalid("status", "status must be 0 (success), 1 (pending), 2 (fail), 3 (sending) or 4 (canceled)")
	}
	if c := in.StatusCodeClass; c != nil && (*c < 0 || *c > 500 || *c%100 != 0) {
		return invalid("statusCodeClass", "statusCodeClass must be 0, 100, 200, 300, 400 or 500")
	}
	return s.startTask(w, r, hookd.TaskBulkReplay, p)
}

package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
)

// endpointIn is the body of POST …/endpoint and PUT …/endpoint/{endpoint_id}. Each
// renamed field is accepted under both of its Svix names: eventTypes (SDKs 2.x) or
// filterTypes, throttleRate (SDKs 2.x) or rateLimit.
type endpointIn struct {
	URL          *string           `json:"url"`
	Description  *string           `json:"description"`
	UID          *string           `json:"uid"`
	FilterTypes  []string          `json:"filterTypes"`
	EventTypes   []string          `json:"eventTypes"`
	Channels     []string          `json:"channels"`
	Disabled     *bool             `json:"disabled"`
	RateLimit    *int32            `json:"rateLimit"`
	ThrottleRate *int32            `json:"throttleRate"`
	Metadata     map[string]string `json:"metadata"`
	Headers      map[string]string `json:"headers"` // on create only
	Secret       *string           `json:"secret"`
	Version      *int32            `json:"version"` // deprecated, ignored

	// hookd extensions. The SDKs cannot send them, so a PUT without one keeps the
	// endpoint's value; null resets it to the default.
	SignatureProfile optional[string] `json:"signatureProfile"`
	SignatureHeader  optional[string] `json:"signatureHeader"`
	RetrySchedule    optional[string] `json:"retrySchedule"`
	TimeoutMs        optional[int64]  `json:"timeoutMs"`
	// PayloadFilter limits the endpoint to the messages whose payload it matches.
	PayloadFilter optional[json.RawMessage] `json:"payloadFilter"`
	// MaxConcurrency caps the requests in flight to the endpoint (0: the server's).
	MaxConcurrency  optional[int64]  `json:"maxConcurrency"`
	FIFO            optional[bool]   `json:"fifo"`
	FIFOOnExhausted optional[string] `json:"fifoOnExhausted"`
}

// endpointPatch is the body of PATCH …/endpoint/{endpoint_id}.
type endpointPatch struct {
	URL              optional[string]            `json:"url"`
	Description      optional[string]            `json:"description"`
	UID              optional[string]            `json:"uid"`
	FilterTypes      optional[[]string]          `json:"filterTypes"`
	EventTypes       optional[[]string]          `json:"eventTypes"`
	Channels         optional[[]string]          `json:"channels"`
	Disabled         optional[bool]              `json:"disabled"`
	RateLimit        optional[int32]             `json:"rateLimit"`
	ThrottleRate     optional[int32]             `json:"throttleRate"`
	Metadata         optional[map[string]string] `json:"metadata"`
	Secret           optional[string]            `json:"secret"`
	Version          optional[int32]             `json:"version"`
	SignatureProfile optional[string]            `json:"signatureProfile"`
	SignatureHeader  optional[string]            `json:"signatureHeader"`
	RetrySchedule    optional[string]            `json:"retrySchedule"`
	TimeoutMs        optional[int64]             `json:"timeoutMs"`
	PayloadFilter    optional[json.RawMessage]   `json:"payloadFilter"`
	MaxConcurrency   optional[int64]             `json:"maxConcurrency"`
	FIFO             optional[bool]              `json:"fifo"`
	FIFOOnExhausted  optional[string]            `json:"fifoOnExhausted"`
}

// endpointOut is an endpoint as the API shows it. Renamed fields appear under both
// their names, as the Svix server answers: the 2.x SDKs read eventTypes and
// throttleRate, older ones (and Go's to this day) filterTypes and rateLimit, and an SDK
// that missed its name would read an empty filter back and clear it on the next
// update. hookd's extensions always appear: every current SDK ignores fields it does
// not know.
type endpointOut struct {
	ID           string            `json:"id"`
	UID          string            `json:"uid,omitempty"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	EventTypes   []string          `json:"eventTypes,omitempty"`
	FilterTypes  []string          `json:"filterTypes,omitempty"`
	Channels     []string          `json:"channels,omitempty"`
	Disabled     bool              `json:"disabled"`
	ThrottleRate *int32            `json:"throttleRate,omitempty"`
	RateLimit    *int32            `json:"rateLimit,omitempty"`
	Metadata     map[string]string `json:"metadata"`
	Version      int               `json:"version"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`

	SignatureProfile string  `json:"signatureProfile"`
	SignatureHeader  *string `json:"signatureHeader"` // null: the profile's
	RetrySchedule    *string `json:"retrySchedule"`   // null: the application's or the server's
	TimeoutMs        *int64  `json:"timeoutMs"`       // null: the server's
	// PayloadFilter is null for an endpoint without one.
	PayloadFilter *hookd.PayloadFilter `json:"payloadFilter"`
	// MaxConcurrency is null for the server's --endpoint-concurrency.
	MaxConcurrency  *int64 `json:"maxConcurrency"`
	FIFO            bool   `json:"fifo"`
	FIFOOnExhausted string `json:"fifoOnExhausted"`
}

func epOut(e *hookd.Endpoint) endpointOut {
	out := endpointOut{
		ID: e.ID, UID: e.UID, URL: e.URL, Description: e.Description,
		EventTypes: e.FilterTypes, FilterTypes: e.FilterTypes, Channels: e.Channels, Disabled: e.Disabled,
		Metadata: e.Metadata, Version: 1, CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
		SignatureProfile: e.SignatureProfile, PayloadFilter: e.PayloadFilter,
		FIFO: e.FIFO, FIFOOnExhausted: e.FIFOOnExhausted,
	}
	if out.FIFOOnExhausted == "" {
		out.FIFOOnExhausted = hookd.FIFOSkip
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if out.SignatureProfile == "" {
		out.SignatureProfile = "standard"
	}
	if e.RetrySchedule != "" {
		out.RetrySchedule = &e.RetrySchedule
	}
	if e.SignatureHeader != "" {
		out.SignatureHeader = &e.SignatureHeader
	}
	if e.Timeout > 0 {
		ms := e.Timeout.Milliseconds()
		out.TimeoutMs = &ms
	}
	if e.MaxConcurrency > 0 {
		n := int64(e.MaxConcurrency)
		out.MaxConcurrency = &n
	}
	if e.RateLimit > 0 {
		rl := int32(e.RateLimit)
		out.RateLimit, out.ThrottleRate = &rl, &rl
	}
	return out
}

// applyEndpoint validates in and copies it onto e, a new endpoint (create, or a PUT
// that creates) or an existing one (PUT): an existing endpoint keeps the extensions in
// leaves out.
func (s *Server) applyEndpoint(in *endpointIn, e *hookd.Endpoint, isNew bool) (webhook.Profile, error) {
	var p webhook.Profile
	if in.URL == nil {
		return p, invalid("url", "url is required")
	}
	if err := e.SetURL(*in.URL); err != nil {
		return p, err
	}
	e.Description = ""
	if in.Description != nil {
		e.Description = *in.Description
	}
	if err := e.SetUID(in.UID); err != nil {
		return p, err
	}
	types := in.FilterTypes
	if types == nil {
		types = in.EventTypes
	}
	if err := e.SetFilterTypes(types); err != nil {
		return p, err
	}
	if err := e.SetChannels(in.Channels); err != nil {
		return p, err
	}
	e.SetDisabled(in.Disabled != nil && *in.Disabled, s.now())
	rl := in.RateLimit
	if rl == nil {
		rl = in.ThrottleRate
	}
	e.RateLimit = 0
	if rl != nil {
		if err := e.SetRateLimit(int64(*rl)); err != nil {
			return p, err
		}
	}
	if err := hookd.CheckMetadata("metadata", in.Metadata); err != nil {
		return p, err
	}
	e.Metadata = in.Metadata
	if in.Headers != nil {
		// Custom headers are their own resource (…/headers): a PUT without them keeps them.
		if err := checkHeaders(in.Headers); err != nil {
			return p, err
		}
		e.Headers = in.Headers
	}
	if in.SignatureProfile.Set || isNew {
		e.SignatureProfile = in.SignatureProfile.Value
	}
	if in.SignatureHeader.Set || isNew {
		e.SignatureHeader = in.SignatureHeader.Value
	}
	p, err := checkProfile("signatureProfile", e.SignatureProfile)
	if err != nil {
		return p, err
	}
	if err := checkSignatureHeader(e); err != nil {
		return p, err
	}
	if in.RetrySchedule.Set || isNew {
		if err := hookd.CheckRetrySchedule("retrySchedule", in.RetrySchedule.Value); err != nil {
			return p, err
		}
		e.RetrySchedule = in.RetrySchedule.Value
	}
	if in.TimeoutMs.Set || isNew {
		if err := e.SetTimeoutMs(in.TimeoutMs.Value); err != nil {
			return p, err
		}
	}
	if in.MaxConcurrency.Set || isNew {
		if err := e.SetMaxConcurrency(in.MaxConcurrency.Value); err != nil {
			return p, err
		}
	}
	if err := setPayloadFilter(e, in.PayloadFilter); err != nil {
		return p, err
	}
	if err := applyFIFO(e, in.FIFO, in.FIFOOnExhausted, isNew); err != nil {
		return p, err
	}
	return p, nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	eps, err := s.store.Endpoints(r.Context(), a.ID, probe(p))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(p, eps, func(e *hookd.Endpoint) string { return e.ID }, epOut))
	return nil
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in endpointIn
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	now := s.now()
	e := &hookd.Endpoint{ID: s.cfg.IDs.New(hookd.PrefixEndpoint), AppID: a.ID, CreatedAt: now, UpdatedAt: now}
	p, err := s.applyEndpoint(&in, e, true)
	if err != nil {
		return err
	}
	if err := s.setNewSecret(e, p, in.Secret); err != nil {
		return err
	}
	if err := s.checkHTTPS(r, a, "url", e.URL); err != nil {
		return err
	}
	return s.insertEndpoint(w, r, a, e)
}

// insertEndpoint stores a new, checked endpoint, announces it and answers 201.
func (s *Server) insertEndpoint(w http.ResponseWriter, r *http.Request, a *hookd.Application, e *hookd.Endpoint) error {
	if err := s.store.CreateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.created", a, e)
	writeJSON(w, http.StatusCreated, epOut(e))
	return nil
}

// checkHTTPS refuses an http:// URL in field for application a when the server or a
// requires HTTPS, naming the field, and logs why.
func (s *Server) checkHTTPS(r *http.Request, a *hookd.Application, field, url string) error {
	var why string
	switch {
	case !strings.HasPrefix(strings.ToLower(url), "http:"):
		return nil
	case s.cfg.RequireHTTPS:
		why = "the server requires HTTPS endpoint URLs (--require-https)"
	case a.RequireHTTPS:
		why = "the application requires HTTPS endpoint URLs (requireHttps)"
	default:
		return nil
	}
	s.log.Warn("endpoint URL refused", "app", a.ID, "path", r.URL.Path, "field", field, "reason", why)
	return invalid(field, field+" must be an https:// URL: "+why)
}

// setNewSecret gives a new endpoint the client's secret or a fresh one.
func (s *Server) setNewSecret(e *hookd.Endpoint, p webhook.Profile, given *string) error {
	var key string
	var err error
	if given != nil && *given != "" {
		key, err = checkSecret("secret", *given, p)
	} else {
		key, err = newSecret(p)
	}
	if err != nil {
		return err
	}
	e.Secrets = []hookd.Secret{{Key: key}}
	return nil
}

// endpoint loads the application and endpoint named by the path.
func (s *Server) endpoint(r *http.Request) (*hookd.Application, *hookd.Endpoint, error) {
	a, err := s.app(r)
	if err != nil {
		return nil, nil, err
	}
	e, err := s.store.Endpoint(r.Context(), a.ID, r.PathValue("endpoint_id"))
	if err != nil {
		return nil, nil, err
	}
	return a, e, nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, epOut(e))
	return nil
}

// updateEndpoint replaces an endpoint, creating it (with the path's endpoint_id as its
// uid) if it does not exist, as Svix does.
func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in endpointIn
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	e, err := s.store.Endpoint(r.Context(), a.ID, r.PathValue("endpoint_id"))
	if hookd.IsNotFound(err) {
		return s.upsertEndpoint(w, r, a, &in)
	}
	if err != nil {
		return err
	}
	if _, err := s.applyEndpoint(&in, e, false); err != nil {
		return err
	}
	if in.Secret != nil && *in.Secret != "" {
		return invalid("secret", "the secret cannot be changed by an update: rotate it with POST …/secret/rotate")
	}
	if err := s.checkHTTPS(r, a, "url", e.URL); err != nil {
		return err
	}
	e.UpdatedAt = s.now()
	if err := s.store.UpdateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.updated", a, e)
	writeJSON(w, http.StatusOK, epOut(e))
	return nil
}

func (s *Server) upsertEndpoint(w http.ResponseWriter, r *http.Request, a *hookd.Application, in *endpointIn) error {
	if in.UID == nil {
		uid := r.PathValue("endpoint_id")
		in.UID = &uid
	}
	now := s.now()
	e := &hookd.Endpoint{ID: s.cfg.IDs.New(hookd.PrefixEndpoint), AppID: a.ID, CreatedAt: now, UpdatedAt: now}
	p, err := s.applyEndpoint(in, e, true)
	if err != nil {
		return err
	}
	if err := s.setNewSecret(e, p, in.Secret); err != nil {
		return err
	}
	if err := s.checkHTTPS(r, a, "url", e.URL); err != nil {
		return err
	}
	if err := s.store.CreateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.created", a, e)
	writeJSON(w, http.StatusCreated, epOut(e))
	return nil
}

func (s *Server) patchEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in endpointPatch
	if err := decode(r, &in); err != nil {
		return err
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.applyEndpointPatch(&in, e); err != nil {
		return err
	}
	if in.URL.Set {
		if err := s.checkHTTPS(r, a, "url", e.URL); err != nil {
			return err
		}
	}
	e.UpdatedAt = s.now()
	if err := s.store.UpdateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.updated", a, e)
	writeJSON(w, http.StatusOK, epOut(e))
	return nil
}

func (s *Server) applyEndpointPatch(in *endpointPatch, e *hookd.Endpoint) error {
	if in.URL.Set {
		if err := e.SetURL(in.URL.Value); err != nil {
			return err
		}
	}
	if in.Description.Set {
		e.Description = in.Description.Value
	}
	if in.UID.Set {
		var uid *string
		if !in.UID.Null {
			uid = &in.UID.Value
		}
		if err := e.SetUID(uid); err != nil {
			return err
		}
	}
	for _, types := range []optional[[]string]{in.EventTypes, in.FilterTypes} {
		if types.Set {
			if err := e.SetFilterTypes(types.Value); err != nil {
				return err
			}
		}
	}
	if in.Channels.Set {
		if err := e.SetChannels(in.Channels.Value); err != nil {
			return err
		}
	}
	if in.Disabled.Set {
		e.SetDisabled(in.Disabled.Value, s.now())
	}
	for _, rl := range []optional[int32]{in.ThrottleRate, in.RateLimit} {
		if rl.Set {
			if err := e.SetRateLimit(int64(rl.Value)); err != nil {
				return err
			}
		}
	}
	if in.Metadata.Set {
		if err := hookd.CheckMetadata("metadata", in.Metadata.Value); err != nil {
			return err
		}
		e.Metadata = in.Metadata.Value
	}
	if in.SignatureProfile.Set {
		e.SignatureProfile = in.SignatureProfile.Value
	}
	if in.SignatureHeader.Set {
		e.SignatureHeader = in.SignatureHeader.Value
	}
	p, err := checkProfile("signatureProfile", e.SignatureProfile)
	if err != nil {
		return err
	}
	if err := checkSignatureHeader(e); err != nil {
		return err
	}
	if in.Secret.Set && !in.Secret.Null && in.Secret.Value != "" {
		key, err := checkSecret("secret", in.Secret.Value, p)
		if err != nil {
			return err
		}
		e.Secrets = []hookd.Secret{{Key: key}}
	} else if in.SignatureProfile.Set && len(e.Secrets) > 0 {
		// A profile change may need another kind of key (Ed25519 or HMAC).
		if _, err := webhook.NewSigner(p, e.Secrets[0].Key); err != nil {
			key, err := newSecret(p)
			if err != nil {
				return err
			}
			e.Secrets = []hookd.Secret{{Key: key}}
		}
	}
	if in.RetrySchedule.Set {
		if err := hookd.CheckRetrySchedule("retrySchedule", in.RetrySchedule.Value); err != nil {
			return err
		}
		e.RetrySchedule = in.RetrySchedule.Value
	}
	if in.TimeoutMs.Set {
		if err := e.SetTimeoutMs(in.TimeoutMs.Value); err != nil {
			return err
		}
	}
	if in.MaxConcurrency.Set {
		if err := e.SetMaxConcurrency(in.MaxConcurrency.Value); err != nil {
			return err
		}
	}
	if err := setPayloadFilter(e, in.PayloadFilter); err != nil {
		return err
	}
	return applyFIFO(e, in.FIFO, in.FIFOOnExhausted, false)
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEndpoint(r.Context(), a.ID, e.ID); err != nil {
		return err
	}
	s.emitEndpoint(r, "endpoint.deleted", a, e)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endpointEventData is the data of the endpoint.created/updated/deleted operational
// events, as Svix sends them.
type endpointEventData struct {
	AppID       string `json:"appId"`
	AppUID      string `json:"appUid,omitempty"`
	EndpointID  string `json:"endpointId"`
	EndpointUID string `json:"endpointUid,omitempty"`
}

// emitEndpoint follows every change of an endpoint: this node's dispatcher forgets
// what it cached of it (so the next delivery uses the new URL, headers and keys), and
// the operational event goes out.
func (s *Server) emitEndpoint(r *http.Request, eventType string, a *hookd.Application, e *hookd.Endpoint) {
	if s.cfg.EndpointChangedFunc != nil {
		s.cfg.EndpointChangedFunc(a.ID, e.ID)
	}
	if a.UID == hookd.OperationalAppUID {
		return // the operational endpoints do not report on themselves
	}
	s.emit(r.Context(), eventType, endpointEventData{AppID: a.ID, AppUID: a.UID, EndpointID: e.ID, EndpointUID: e.UID})
}

// namedHeaderProfiles are the profiles whose signature header an endpoint may name:
// those that sign the raw body into one hex value, as many providers do under their
// own header name.
var namedHeaderProfiles = map[string]bool{"hmac-sha256-hex": true, "hmac-sha512-hex": true}

// checkSignatureHeader validates the endpoint's signatureHeader against its profile.
func checkSignatureHeader(e *hookd.Endpoint) error {
	h := e.SignatureHeader
	if h == "" {
		return nil
	}
	if !namedHeaderProfiles[e.SignatureProfile] {
		return invalid("signatureHeader", "signatureHeader applies only to the hmac-sha256-hex and hmac-sha512-hex profiles")
	}
	if len(h) > 64 || strings.ContainsFunc(h, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r)
	}) {
		return invalid("signatureHeader", "signatureHeader must be an HTTP header name of at most 64 characters")
	}
	if lower := strings.ToLower(h); reservedHeaders[lower] || lower == "webhook-id" || lower == "webhook-timestamp" {
		return invalid("signatureHeader", "header "+quote(h)+" is set by hookd for another purpose")
	}
	return nil
}

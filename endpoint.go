package hookd

import (
	"context"
	"slices"
	"time"
)

// Endpoint is a URL of one application's customer that receives webhooks.
type Endpoint struct {
	ID          string
	AppID       string
	UID         string // optional, unique within the application
	URL         string
	Description string
	// FilterTypes limits the endpoint to these event types (empty: all).
	FilterTypes []string
	// Channels limits the endpoint to messages sent on one of these channels
	// (empty: all messages).
	Channels []string
	// PayloadFilter, if set, limits the endpoint to messages whose payload it
	// matches (a hookd extension).
	PayloadFilter *PayloadFilter
	Disabled      bool
	// DisabledAt is when the endpoint was last disabled, by a user or automatically.
	DisabledAt *time.Time
	// RateLimit is the maximum deliveries per second to this endpoint (0: unlimited).
	RateLimit int
	// MaxConcurrency caps the requests in flight to this endpoint, from all nodes
	// together, below the server's --endpoint-concurrency (0: the server's cap).
	MaxConcurrency int
	Metadata       map[string]string
	// Headers are sent with every request to the endpoint.
	Headers map[string]string
	// Secrets sign the requests: Secrets[0] is current; older ones keep signing until
	// their ExpiresAt passes (rotation grace period).
	Secrets []Secret
	// SignatureProfile names a webhook.Profile ("" means the standard profile).
	SignatureProfile string
	// SignatureHeader, for the hex profiles, names the header the signature is sent
	// in instead of the profile's ("" keeps the profile's).
	SignatureHeader string
	// RetrySchedule overrides the application's and server's schedule ("" inherits).
	RetrySchedule string
	// Timeout overrides the server's request timeout (0 inherits).
	Timeout time.Duration
	// ClientCert, if set, is presented to the endpoint's server (mutual TLS).
	ClientCert *ClientCert
	// ServerCA, if set, is a PEM bundle of the CAs the endpoint's certificate is
	// verified against, instead of the system's roots.
	ServerCA string
	// OAuth, if set, makes hookd send a bearer token fetched with OAuth 2.0 client
	// credentials.
	OAuth *OAuthClient
	// FIFO makes the endpoint ordered: each message goes only after the one accepted
	// before it with the same OrderingKey succeeded or failed for good (see
	// FIFOStore for the claim rule and docs/delivery.md).
	FIFO bool
	// FIFOOnExhausted is what an ordered endpoint does when a delivery fails for
	// good: FIFOSkip (go on) or FIFOStop (halt its key until resolved).
	FIFOOnExhausted string
	// FailingSince is the time of the first failure of the current run of failures, or
	// nil while the endpoint is healthy. Any success resets it.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Secret is one signing key of an endpoint. A key signs from NotBefore (nil: at once)
// until ExpiresAt (nil: until rotated out).
type Secret struct {
	Key       string     // e.g. "whsec_…"
	ExpiresAt *time.Time // nil for the current key
	// NotBefore is when a key rotated in on a one-signature profile takes over from
	// the key it replaces (the end of that key's grace period); nil signs at once.
	NotBefore *time.Time
}

// Signs reports whether the key signs at now.
func (s Secret) Signs(now time.Time) bool {
	return (s.NotBefore == nil || !now.Before(*s.NotBefore)) && (s.ExpiresAt == nil || now.Before(*s.ExpiresAt))
}

// SigningKeys returns the keys that sign at now: the current one first, then those
// still within their grace period.
func (e *Endpoint) SigningKeys(now time.Time) []string {
	keys := make([]string, 0, len(e.Secrets))
	for _, s := range e.Secrets {
		if s.Signs(now) {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// PendingSecret returns the key that takes over at a later time (a rotation on a
// one-signature profile within its grace period), or nil.
func (e *Endpoint) PendingSecret(now time.Time) *Secret {
	for i, s := range e.Secrets {
		if s.NotBefore != nil && now.Before(*s.NotBefore) {
			return &e.Secrets[i]
		}
	}
	return nil
}

// RotateSecret makes key the endpoint's signing key as of now. Profiles that carry
// several signatures (multiSignature) sign with the new key at once and with the
// key it replaces beside it until now+grace. Profiles that carry one signature cannot
// offer both: the key signing now keeps signing alone until now+grace, and the new
// key takes over then. A grace of zero switches at once. Keys whose grace is over,
// and a pending key that never signed, are dropped.
func (e *Endpoint) RotateSecret(key string, now time.Time, grace time.Duration, multiSignature bool) {
	at := now.Add(grace)
	next := []Secret{{Key: key}}
	if !multiSignature {
		if signing := e.SigningKeys(now); grace > 0 && len(signing) > 0 {
			next[0].NotBefore = &at
			next = append(next, Secret{Key: signing[0], ExpiresAt: &at})
		}
		e.Secrets = next
		return
	}
	for _, old := range e.Secrets {
		switch {
		case !old.Signs(now):
			// expired, or pending and never signed
		case old.ExpiresAt == nil:
			if grace > 0 {
				next = append(next, Secret{Key: old.Key, ExpiresAt: &at})
			}
		default:
			next = append(next, old)
		}
	}
	e.Secrets = next
}

// Matches reports whether a message of the given event type and channels is for this
// endpoint, its payload filter aside (see FanOut). Disabled endpoints match nothing.
func (e *Endpoint) Matches(eventType string, channels []string) bool {
	if e.Disabled {
		return false
	}
	if len(e.FilterTypes) > 0 && !slices.Contains(e.FilterTypes, eventType) {
		return false
	}
	if len(e.Channels) > 0 {
		for _, c := range channels {
			if slices.Contains(e.Channels, c) {
				return true
			}
		}
		return false
	}
	return true
}

// EndpointStats counts an endpoint's deliveries by status.
type EndpointStats struct {
	Success, Pending, Fail, Sending, Canceled int64
}

// EndpointStore persists endpoints. Every method is scoped to one application: an
// endpoint of another application is ENOTFOUND.
type EndpointStore interface {
	// CreateEndpoint inserts ep. A UID already used in the application is ECONFLICT.
	CreateEndpoint(ctx context.Context, ep *Endpoint) error
	// Endpoint returns the endpoint of appID whose ID or UID is idOrUID.
	Endpoint(ctx context.Context, appID, idOrUID string) (*Endpoint, error)
	// UpdateEndpoint replaces every mutable field of ep (found by ep.AppID, ep.ID).
	UpdateEndpoint(ctx context.Context, ep *Endpoint) error
	// DisableEndpoint disables the endpoint as of at unless it is disabled already,
	// and reports whether this call disabled it. It changes nothing else, so a
	// concurrent update of the endpoint is never undone.
	DisableEndpoint(ctx context.Context, appID, id string, at time.Time) (bool, error)
	// DeleteEndpoint deletes the endpoint and its pending deliveries.
	DeleteEndpoint(ctx context.Context, appID, id string) error
	// Endpoints lists the application's endpoints by ID.
	Endpoints(ctx context.Context, appID string, page Page) ([]*Endpoint, error)
	// AllEndpoints returns every endpoint of the application (for fan-out).
	AllEndpoints(ctx context.Context, appID string) ([]*Endpoint, error)
	// SwapEndpointSecrets sets the secret fields of the endpoint (prev.AppID, prev.ID)
	// — Secrets, Headers, ClientCert and OAuth — to next's if they are still prev's, as
	// stored, and reports whether it did; nothing else changes. Encryption at rest re-seals with it, without undoing
	// an update made meanwhile.
	SwapEndpointSecrets(ctx context.Context, prev, next *Endpoint) (bool, error)
	// EndpointStats counts the endpoint's deliveries by status, those of the messages
	// whose IDs are in [fromID, toID) ("" leaves that side open): a time window made an
	// ID range by IDAt, read by the endpoint's (endpoint_id, msg_id) index.
	EndpointStats(ctx context.Context, appID, id, fromID, toID string) (EndpointStats, error)
}

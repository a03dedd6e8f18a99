package delivery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hookd/hookd"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is what the dispatcher needs from hookd's store: claiming and recording
// deliveries, reading the endpoint, application and event type a delivery needs, and
// keeping the operational application that carries operational webhooks.
type Store interface {
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*hookd.Delivery, error)
	ClaimFIFOHeads(ctx context.Context, now time.Time, lease time.Duration, keys []hookd.FIFOKey) ([]*hookd.Delivery, error)
	RecordAttempts(ctx context.Context, results []hookd.AttemptResult) error
	PostponeDeliveries(ctx context.Context, deliveries []*hookd.Delivery, until time.Time) error
	NextDue(ctx context.Context) (time.Time, bool, error)
	Wake() <-chan struct{}
	Heartbeat(ctx context.Context, id string, now time.Time, ttl time.Duration) (int, error)
	RemoveNode(ctx context.Context, id string) error

	App(ctx context.Context, idOrUID string) (*hookd.Application, error)
	CreateApp(ctx context.Context, app *hookd.Application) error
	Endpoint(ctx context.Context, appID, idOrUID string) (*hookd.Endpoint, error)
	CreateEndpoint(ctx context.Context, ep *hookd.Endpoint) error
	AllEndpoints(ctx context.Context, appID string) ([]*hookd.Endpoint, error)
	UpdateEndpoint(ctx context.Context, ep *hookd.Endpoint) error
	DisableEndpoint(ctx context.Context, appID, id string, at time.Time) (bool, error)
	EventType(ctx context.Context, name string) (*hookd.EventType, error)
	CreateMessage(ctx context.Context, msg *hookd.Message, deliveries []*hookd.Delivery) (*hookd.Message, error)
	PutSettingIfAbsent(ctx context.Context, name, value string) (string, error)
	Circuit(ctx context.Context, appID, endpointID string) (*hookd.Circuit, error)
	SwapCircuit(ctx context.Context, c *hookd.Circuit) (bool, error)
}

var _ Store = hookd.Store(nil)

// Config configures a Dispatcher. Start from DefaultConfig; zero fields take the
// defaults in New.
type Config struct {
	// Store is where deliveries come from and attempts go to.
	Store Store
	// Now is the clock; nil means time.Now. Rate limiting and the flush timer run on
	// the wall clock whatever Now says.
	Now hookd.Clock
	// IDs makes attempt, message and delivery IDs.
	IDs hookd.IDGen
	// RandFunc returns a number in [0, 1) for retry jitter; nil means math/rand/v2.
	RandFunc func() float64
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger

	// Workers caps concurrent outgoing requests across all endpoints.
	Workers int
	// EndpointConcurrency caps concurrent requests to one endpoint, from all the nodes
	// sharing the store together: each node takes its share.
	EndpointConcurrency int
	// EndpointQueue is how many claimed deliveries may wait for one endpoint beyond
	// the ones in flight; more are given back to the store for later.
	EndpointQueue int
	// QueueSize is how many claimed deliveries may wait in memory in all; with
	// Workers it bounds what the dispatcher holds whatever the backlog.
	QueueSize int
	// MaxHeldBytes stops claiming while the payloads held in memory exceed it (one
	// claim batch may overshoot it).
	MaxHeldBytes int64
	// BatchSize is the most deliveries claimed, and attempts recorded, at once.
	BatchSize int
	// FlushInterval is how long an attempt result may wait to be recorded with others.
	FlushInterval time.Duration
	// Lease is how long a claim holds; a crashed node's deliveries are taken up again
	// once it expires. 0 means twice the longest request timeout.
	Lease time.Duration
	// Poll is the longest the claimer sleeps without a wake-up from the store.
	Poll time.Duration
	// Heartbeat is how often the dispatcher tells the store it is alive and learns
	// how many nodes share the store; a node silent for three heartbeats no longer
	// counts. Endpoints' rate limits and concurrency caps are split evenly among the
	// live nodes.
	Heartbeat time.Duration
	// SaturatedDelay is the shortest time a delivery claimed for an endpoint whose
	// queue is full is put back for; a lane that drains slowly gets its deliveries
	// put back for about the time it needs to drain (at most five minutes).
	SaturatedDelay time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight requests once its
	// context is done.
	ShutdownTimeout time.Duration
	// CacheTTL is how long endpoints, applications and event types are cached; a
	// change made through the API reaches the dispatcher within it. Negative turns
	// the cache off.
	CacheTTL time.Duration

	// RetrySchedule is the server-wide schedule; applications, event types and
	// endpoints override it.
	RetrySchedule hookd.RetrySchedule
	// RequestTimeout is the default timeout of one request; endpoints override it.
	RequestTimeout time.Duration
	// MaxResponseBytes is how much of a response body is stored with the attempt.
	MaxResponseBytes int
	// MaxAttemptHeaderBytes is how much of the request and of the response headers
	// (names and values, each side) is stored with the attempt.
	MaxAttemptHeaderBytes int
	// UserAgent is sent with every request.
	UserAgent string
	// SvixHeaders signs with svix-id, svix-timestamp and svix-signature header names
	// instead of the webhook-* ones.
	SvixHeaders bool

	// Relay takes the deliveries of relay endpoints (URL relay://…) to the `hookd
	// listen` connected for them; nil fails those deliveries.
	Relay hookd.Relay

	// AllowPrivate turns the SSRF guard off (development and tests only).
	AllowPrivate bool
	// AllowCIDRs are networks the SSRF guard lets through.
	AllowCIDRs []netip.Prefix
	// Egress is the proxy and the local addresses every request leaves through.
	Egress Egress
	// RequireHTTPS refuses to send to http:// endpoint URLs (the operator's
	// operational webhook excepted, which Validate checks instead).
	RequireHTTPS bool

	// DisableAfter disables an endpoint that has failed continuously this long.
	DisableAfter time.Duration
	// FailingAfter is the attempt count after which message.attempt.failing is sent.
	FailingAfter int

	// CircuitFailures is how many consecutive failures (no answer, or a 5xx) open an
	// endpoint's circuit; negative turns circuit breaking off.
	CircuitFailures int
	// CircuitBackoff is how long an opened circuit waits before its first probe;
	// each failed probe doubles the wait, up to CircuitMaxBackoff.
	CircuitBackoff    time.Duration
	CircuitMaxBackoff time.Duration

	// OperationalWebhookURL receives operational events, signed with
	// OperationalWebhookSecret; empty turns them off.
	OperationalWebhookURL    string
	OperationalWebhookSecret string

	// RootCAs are the certificate authorities endpoints' TLS certificates are
	// verified against; nil means the system's.
	RootCAs *x509.CertPool
	// Registerer, if set, receives the dispatcher's metrics.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the configuration New fills zero fields from.
func DefaultConfig() Config {
	return Config{
		Workers:               hookd.DefaultWorkers,
		EndpointConcurrency:   hookd.DefaultEndpointConcurrency,
		EndpointQueue:         256,
		QueueSize:             1024,
		MaxHeldBytes:          64 << 20,
		BatchSize:             200,
		FlushInterval:         2 * time.Millisecond,
		Poll:                  5 * time.Second,
		Heartbeat:             5 * time.Second,
		SaturatedDelay:        250 * time.Millisecond,
		ShutdownTimeout:       10 * time.Second,
		CacheTTL:              hookd.DefaultCacheTTL,
		RetrySchedule:         hookd.DefaultRetrySchedule(),
		RequestTimeout:        hookd.DefaultRequestTimeout,
		MaxResponseBytes:      hookd.DefaultResponseBodyCap,
		MaxAttemptHeaderBytes: hookd.DefaultAttemptHeadersCap,
		UserAgent:             "hookd-webhooks/1.0 (+https://github.com/hookd/hookd)",
		DisableAfter:          hookd.DefaultDisableAfter,
		FailingAfter:          hookd.DefaultFailingAfter,
		CircuitFailures:       hookd.DefaultCircuitFailures,
		CircuitBackoff:        hookd.DefaultCircuitBackoff,
		CircuitMaxBackoff:     hookd.DefaultCircuitMaxBackoff,
	}
}

// withDefaults fills zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.IDs.Now == nil {
		c.IDs.Now = c.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.Workers, d.Workers)
	setInt(&c.EndpointConcurrency, d.EndpointConcurrency)
	setInt(&c.EndpointQueue, d.EndpointQueue)
	setInt(&c.QueueSize, d.QueueSize)
	setInt(&c.BatchSize, d.BatchSize)
	setInt(&c.MaxResponseBytes, d.MaxResponseBytes)
	setInt(&c.MaxAttemptHeaderBytes, d.MaxAttemptHeaderBytes)
	setInt(&c.FailingAfter, d.FailingAfter)
	if c.MaxHeldBytes == 0 {
		c.MaxHeldBytes = d.MaxHeldBytes
	}
	setDur(&c.FlushInterval, d.FlushInterval)
	setDur(&c.Poll, d.Poll)
	setDur(&c.Heartbeat, d.Heartbeat)
	setDur(&c.SaturatedDelay, d.SaturatedDelay)
	setDur(&c.ShutdownTimeout, d.ShutdownTimeout)
	setDur(&c.CacheTTL, d.CacheTTL)
	setDur(&c.RequestTimeout, d.RequestTimeout)
	setDur(&c.DisableAfter, d.DisableAfter)
	setInt(&c.CircuitFailures, d.CircuitFailures)
	setDur(&c.CircuitBackoff, d.CircuitBackoff)
	setDur(&c.CircuitMaxBackoff, d.CircuitMaxBackoff)
	c.CircuitMaxBackoff = max(c.CircuitMaxBackoff, c.CircuitBackoff)
	setDur(&c.Lease, 2*c.RequestTimeout)
	if c.RetrySchedule.Name == "" {
		c.RetrySchedule = d.RetrySchedule
	}
	if c.UserAgent == "" {
		c.UserAgent = d.UserAgent
	}
	return c
}

// Validate reports every invalid field, by name.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Store == nil {
		bad("Store", "is required")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"Workers", c.Workers}, {"EndpointConcurrency", c.EndpointConcurrency},
		{"EndpointQueue", c.EndpointQueue}, {"QueueSize", c.QueueSize},
		{"BatchSize", c.BatchSize}, {"MaxResponseBytes", c.MaxResponseBytes},
		{"MaxAttemptHeaderBytes", c.MaxAttemptHeaderBytes},
		{"FailingAfter", c.FailingAfter},
	} {
		if f.v < 1 {
			bad(f.name, "must be at least 1, got %d", f.v)
		}
	}
	if c.MaxHeldBytes < 1 {
		bad("MaxHeldBytes", "must be positive")
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"FlushInterval", c.FlushInterval}, {"Lease", c.Lease}, {"Poll", c.Poll},
		{"SaturatedDelay", c.SaturatedDelay}, {"ShutdownTimeout", c.ShutdownTimeout},
		{"RequestTimeout", c.RequestTimeout}, {"DisableAfter", c.DisableAfter},
		{"CircuitBackoff", c.CircuitBackoff}, {"CircuitMaxBackoff", c.CircuitMaxBackoff},
	} {
		if f.v <= 0 {
			bad(f.name, "must be positive, got %s", f.v)
		}
	}
	if c.Lease > 0 && c.RequestTimeout > 0 && c.Lease <= c.RequestTimeout {
		bad("Lease", "%s must be longer than RequestTimeout (%s)", c.Lease, c.RequestTimeout)
	}
	if p := c.Egress.Proxy; p != nil {
		if _, err := ParseProxy(p.String()); err != nil {
			bad("Egress.Proxy", "%v", err)
		}
	}
	if c.OperationalWebhookURL != "" && c.OperationalWebhookSecret == "" {
		bad("OperationalWebhookSecret", "is required with OperationalWebhookURL")
	}
	if c.OperationalWebhookURL != "" {
		if u, err := hookd.ParseEndpointURL(c.OperationalWebhookURL); err != nil {
			bad("OperationalWebhookURL", "%s", hookd.ErrorMessage(err))
		} else if c.RequireHTTPS && u.Scheme != "https" {
			bad("OperationalWebhookURL", "must be an https:// URL with RequireHTTPS")
		}
	}
	return errors.Join(errs...)
}

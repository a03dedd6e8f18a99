// Package server wires a hookd server together in one process: the store, the REST
// API, the dashboard and portal, the delivery workers, the relay hub, the background
// tasks and the retention purges. cmd/hookd's serve command maps flags to a
// Config; end-to-end tests start a Server in-process (hookd bench runs the binary).
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/crypt"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/ui"
)

// Config is everything a hookd server needs. Start from DefaultConfig.
type Config struct {
	// Addr is the API's listen address; ":0" picks a free port.
	Addr string
	// DB is a SQLite file path (default "./hookd.db") or a postgres:// URL.
	DB string
	// PostgreSQL pool settings (ignored for SQLite).
	DBMaxConns int32
	DBMinConns int32

	// AdminToken, if set, is an admin API key: added to the database's keys unless it
	// is one already (never replacing another). If empty and the database has no key,
	// the first start creates one and reports it once through Server.NewAdminToken.
	AdminToken string
	// EncryptionKey is the main key secrets are encrypted under at rest (32 bytes,
	// base64 or hex). If empty, the key is read from EncryptionKeyFile or, for SQLite,
	// from the key file beside the database (created on first start). PostgreSQL
	// needs one of the two.
	EncryptionKey string
	// EncryptionKeyFile holds the main key (see EncryptionKey).
	EncryptionKeyFile string
	// PublicURL is the base URL customers reach this server at; app portal links
	// start with it. Empty means the listen address.
	PublicURL string
	// PublicMetrics serves /metrics without a token; by default it needs an admin key.
	PublicMetrics bool
	// MaxPayloadBytes limits message payloads (and request bodies) in bytes.
	MaxPayloadBytes int64

	// RetrySchedule is the server-wide default retry schedule.
	RetrySchedule hookd.RetrySchedule
	// RequestTimeout is the default timeout of one delivery request.
	RequestTimeout time.Duration
	// ResponseBodyCap is how much of each response body the attempt log keeps, in
	// bytes.
	ResponseBodyCap int
	// AttemptHeadersCap is how much of the request headers sent and of the response
	// headers received the attempt log keeps, in bytes each.
	AttemptHeadersCap int
	// Workers is the number of concurrent outgoing requests.
	Workers int
	// EndpointConcurrency caps concurrent requests to one endpoint.
	EndpointConcurrency int
	// SvixHeaders signs with svix-id/svix-timestamp/svix-signature header names.
	SvixHeaders bool
	// AllowPrivate lets deliveries reach loopback, private and other internal
	// addresses (development and tests only).
	AllowPrivate bool
	// AllowCIDRs lets deliveries reach these networks even with the SSRF guard on.
	AllowCIDRs []netip.Prefix
	// Proxy, if set, carries every delivery: http://host:port asks it with CONNECT,
	// socks5://host:port with SOCKS5 (user:password@ for either). The SSRF guard still
	// applies: hookd resolves and checks each target and asks the proxy for its IP.
	Proxy string
	// SourceAddrs are local addresses deliveries are sent from, in turn.
	SourceAddrs []netip.Addr
	// EgressIPs are the addresses or networks deliveries come from, published by
	// GET /api/v1/egress-ips so customers can allowlist them.
	EgressIPs []netip.Prefix
	// RequireHTTPS refuses http:// endpoint URLs, at the API and at delivery time.
	RequireHTTPS bool
	// EnforceSchemas refuses, with 422, a message whose payload its event type's
	// newest JSON Schema does not validate, for every event type (an event type's
	// enforceSchema does it for its own messages).
	EnforceSchemas bool
	// DisableAfter disables an endpoint that has failed continuously this long.
	DisableAfter time.Duration
	// FailingAfter is the failed attempt count of a message at which the
	// message.attempt.failing operational event is sent.
	FailingAfter int
	// CircuitFailures is how many consecutive failures (no answer, or a 5xx) open an
	// endpoint's circuit; 0 turns circuit breaking off.
	CircuitFailures int
	// CircuitBackoff is how long an open circuit waits before its first probe; each
	// failed probe doubles it, up to CircuitMaxBackoff.
	CircuitBackoff    time.Duration
	CircuitMaxBackoff time.Duration
	// RotationGrace is how long a rotated-out secret keeps signing by default.
	RotationGrace time.Duration
	// OperationalWebhookURL receives operational events (endpoint.disabled,
	// message.attempt.exhausted, …) signed with OperationalWebhookSecret; empty disables
	// them.
	OperationalWebhookURL    string
	OperationalWebhookSecret string
	// IdempotencyTTL is how long the answer to a request with an Idempotency-Key is
	// kept and replayed; after it (give or take the purge interval) the key is new.
	IdempotencyTTL time.Duration
	// Retention is how long message payloads and the response bodies and headers of
	// their attempts are kept, unless a message asks otherwise
	// (payloadRetentionPeriod/payloadRetentionHours). A message with a delivery still
	// pending or sending keeps its payload until that delivery is final.
	Retention time.Duration
	// MetadataRetention is how long messages, deliveries and attempts are kept at all
	// (ids, event types, times, status codes); at least Retention.
	MetadataRetention time.Duration
	// PartitionWidth is the time each PostgreSQL attempt-log partition covers; zero
	// means one day. It matters only when partitions are made.
	PartitionWidth time.Duration
	// TaskLease is how long a node holds a background task without saving progress;
	// a task whose node died resumes on another (or after a restart) that much later.
	// Zero means task.DefaultLease.
	TaskLease time.Duration

	// PortalFrameAncestors are the origins that may embed the customer portal in a
	// frame; empty forbids framing.
	PortalFrameAncestors []string
	// PortalBrandName, PortalBrandLogo (an https URL or an absolute path) and
	// PortalBrandColor (#rgb or #rrggbb) present the portal as the operator's own.
	PortalBrandName  string
	PortalBrandLogo  string
	PortalBrandColor string

	// Now is the clock; nil means time.Now.
	Now hookd.Clock
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration `hookd serve` starts from.
func DefaultConfig() Config {
	return Config{
		Addr:                "127.0.0.1:8071",
		DB:                  "./hookd.db",
		DBMaxConns:          16,
		DBMinConns:          2,
		MaxPayloadBytes:     hookd.DefaultMaxPayloadBytes,
		RetrySchedule:       hookd.DefaultRetrySchedule(),
		RequestTimeout:      hookd.DefaultRequestTimeout,
		ResponseBodyCap:     hookd.DefaultResponseBodyCap,
		AttemptHeadersCap:   hookd.DefaultAttemptHeadersCap,
		Workers:             hookd.DefaultWorkers,
		EndpointConcurrency: hookd.DefaultEndpointConcurrency,
		DisableAfter:        hookd.DefaultDisableAfter,
		FailingAfter:        hookd.DefaultFailingAfter,
		CircuitFailures:     hookd.DefaultCircuitFailures,
		CircuitBackoff:      hookd.DefaultCircuitBackoff,
		CircuitMaxBackoff:   hookd.DefaultCircuitMaxBackoff,
		RotationGrace:       hookd.DefaultRotationGrace,
		IdempotencyTTL:      hookd.DefaultIdempotencyTTL,
		Retention:           hookd.DefaultRetention,
		MetadataRetention:   hookd.DefaultMetadataRetention,
	}
}

// IsPostgres reports whether DB names a PostgreSQL database.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// Validate reports the first invalid field, named as its flag.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: must not be empty (e.g. 127.0.0.1:8071)"))
	}
	if err := ValidateDB(c.DB); err != nil {
		errs = append(errs, err)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("admin-token: must be at least 16 characters"))
	}
	if len(c.AdminToken) > hookd.MaxTokenLength {
		errs = append(errs, fmt.Errorf("admin-token: must be at most %d characters", hookd.MaxTokenLength))
	}
	if c.IsPostgres() && c.EncryptionKey == "" && c.EncryptionKeyFile == "" {
		errs = append(errs, errors.New("encryption-key: required with PostgreSQL, the same on every node: secrets are encrypted at rest "+
			"(give --encryption-key, HOOKD_ENCRYPTION_KEY or --encryption-key-file; make a key with: openssl rand -base64 32)"))
	}
	if c.EncryptionKey != "" {
		if _, err := crypt.ParseKey(c.EncryptionKey); err != nil {
			errs = append(errs, fmt.Errorf("encryption-key: %w", err))
		}
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, errors.New("public-url: must start with http:// or https://"))
	}
	if c.MaxPayloadBytes < 1024 {
		errs = append(errs, fmt.Errorf("max-payload-bytes: %d is below the 1024-byte minimum", c.MaxPayloadBytes))
	}
	if c.ResponseBodyCap < 1 || c.ResponseBodyCap > hookd.MaxResponseBodyCap {
		errs = append(errs, fmt.Errorf("response-body-cap: %d is outside 1 to %d bytes", c.ResponseBodyCap, hookd.MaxResponseBodyCap))
	}
	if c.AttemptHeadersCap < 1024 || c.AttemptHeadersCap > hookd.MaxAttemptHeadersCap {
		errs = append(errs, fmt.Errorf("attempt-headers-cap: %d is outside 1024 to %d bytes", c.AttemptHeadersCap, hookd.MaxAttemptHeadersCap))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("request-timeout: must be positive"))
	}
	if c.Workers < 1 {
		errs = append(errs, errors.New("workers: must be at least 1"))
	}
	if c.EndpointConcurrency < 1 {
		errs = append(errs, errors.New("endpoint-concurrency: must be at least 1"))
	}
	if c.DisableAfter <= 0 {
		errs = append(errs, errors.New("disable-after: must be positive"))
	}
	if c.Retention < time.Second {
		errs = append(errs, errors.New("retention: must be at least 1s"))
	}
	if c.MetadataRetention < c.Retention {
		errs = append(errs, fmt.Errorf("metadata-retention: %s is shorter than retention (%s)", c.MetadataRetention, c.Retention))
	}
	if c.PartitionWidth < 0 || (c.PartitionWidth > 0 && c.PartitionWidth < time.Second) {
		errs = append(errs, errors.New("partition-width: must be at least 1s"))
	}
	if c.FailingAfter < 1 {
		errs = append(errs, errors.New("failing-after: must be at least 1"))
	}
	if c.CircuitFailures < 0 {
		errs = append(errs, errors.New("circuit-failures: must be 0 (off) or more"))
	}
	if c.CircuitBackoff <= 0 {
		errs = append(errs, errors.New("circuit-backoff: must be positive"))
	}
	if c.CircuitMaxBackoff < c.CircuitBackoff {
		errs = append(errs, errors.New("circuit-max-backoff: must be at least circuit-backoff"))
	}
	if c.IdempotencyTTL < time.Minute {
		errs = append(errs, errors.New("idempotency-ttl: must be at least 1m"))
	}
	if err := (ui.Brand{Name: c.PortalBrandName, LogoURL: c.PortalBrandLogo, Color: c.PortalBrandColor}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := ui.ValidateFrameAncestors(c.PortalFrameAncestors); err != nil {
		errs = append(errs, err)
	}
	if c.OperationalWebhookURL != "" && c.OperationalWebhookSecret == "" {
		errs = append(errs, errors.New("operational-webhook-secret: required with operational-webhook-url"))
	}
	if c.RequireHTTPS && c.OperationalWebhookURL != "" && !strings.HasPrefix(c.OperationalWebhookURL, "https://") {
		errs = append(errs, errors.New("operational-webhook-url: must be an https:// URL with --require-https"))
	}
	if c.Proxy != "" {
		if _, err := delivery.ParseProxy(c.Proxy); err != nil {
			errs = append(errs, fmt.Errorf("proxy: %w", err))
		}
	}
	errs = append(errs, checkCIDRs("allow-cidr", c.AllowCIDRs), checkCIDRs("egress-ips", c.EgressIPs))
	for _, a := range c.SourceAddrs {
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			errs = append(errs, fmt.Errorf("source-addr: %s is not a unicast address", a))
		}
	}
	return errors.Join(errs...)
}

// ParseCIDRs parses the networks given to flag (such as --allow-cidr), each like
// 10.0.0.0/8; with addrOK a bare address stands for the network of that address
// alone. Errors name the flag. Config holds the result and Validate checks it.
func ParseCIDRs(flag string, vals []string, addrOK bool) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		v = strings.TrimSpace(v)
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if !addrOK || aerr != nil {
				if addrOK {
					return nil, fmt.Errorf("%s: %q is not an IP address or a CIDR", flag, v)
				}
				return nil, fmt.Errorf("%s: %q is not a CIDR like 10.0.0.0/8", flag, v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkCIDRs reports the first network of flag that is not a valid, masked prefix of
// an IPv4 or IPv6 address (an IPv4-mapped IPv6 network would never match an IPv4
// peer).
func checkCIDRs(flag string, ps []netip.Prefix) error {
	for _, p := range ps {
		switch {
		case !p.IsValid():
			return fmt.Errorf("%s: %s is not a network", flag, p)
		case p.Addr().Is4In6():
			return fmt.Errorf("%s: %s is an IPv4-mapped IPv6 network; give it as IPv4", flag, p)
		case p != p.Masked():
			return fmt.Errorf("%s: %s has host bits set; the network is %s", flag, p, p.Masked())
		}
	}
	return nil
}

// dsnKeyword matches the start of a libpq keyword/value connection string
// ("host=db user=hookd …").
var dsnKeyword = regexp.MustCompile(`^\s*[a-z_]+\s*=`)

// ValidateDB checks a --db value: a postgres:// URL, or a SQLite file path. A value
// that is clearly meant as something else, such as a keyword/value connection string
// or another kind of URL, is refused rather than taken as the name of a new SQLite file.
func ValidateDB(db string) error {
	switch {
	case db == "":
		return errors.New("db: must not be empty (a SQLite file path or a postgres:// URL)")
	case strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://"):
		return nil
	case dsnKeyword.MatchString(db):
		return fmt.Errorf("db: %q looks like a keyword/value connection string; give PostgreSQL as a URL, postgres://USER@HOST:5432/DB", db)
	case strings.Contains(db, "://"):
		return fmt.Errorf("db: %q is a URL but not postgres://; give a postgres:// URL or a SQLite file path", db)
	}
	return nil
}

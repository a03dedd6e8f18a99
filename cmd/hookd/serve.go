package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/server"
)

// serveFlags are the serve command's flags that need parsing into server.Config.
type serveFlags struct {
	retrySchedule string
	allowCIDRs    []string
	sourceAddrs   []string
	egressIPs     []string
	logFormat     string
	logLevel      string
	pprofAddr     string
	// Files holding secrets, so they need not be on the command line.
	adminTokenFile string
	opsSecretFile  string
}

func newServeCmd() *cobra.Command {
	cfg := server.DefaultConfig()
	f := serveFlags{retrySchedule: cfg.RetrySchedule.String(), logFormat: "text", logLevel: "info"}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hookd server: Svix-compatible API and delivery workers",
		Long: `serve runs hookd: the Svix-compatible REST API on --addr (/api/v1/…), the delivery
workers, and the operational endpoints /healthz, /readyz, /metrics and /openapi.json.

The store is a SQLite file (--db, default ./hookd.db, created if missing) or, with a
postgres:// URL, a PostgreSQL database that several serve processes may share.

Every API request needs "Authorization: Bearer <token>": an admin API key, or an
application-scoped token from POST /api/v1/auth/app-portal-access/{app_id}. On a
database without keys, the first start generates one, stores only its hash and prints
it once on stderr. --admin-token (or HOOKD_ADMIN_TOKEN) adds a key of your own; it
never replaces the keys the database has. --admin-token-file and
--operational-webhook-secret-file read those secrets from a file instead, so they
appear neither in the process list nor in the environment. A new SQLite database is
created readable by its owner only. Manage keys with "hookd token".

Once listening, serve prints "hookd: listening on http://HOST:PORT" and the address of
the operator dashboard ("hookd: dashboard at http://HOST:PORT/ui/") on stderr; GET /
redirects a browser there. The customer portal is served at /portal (see
--portal-frame-ancestors and the --portal-brand-* flags). It
shuts down gracefully on SIGINT or SIGTERM and exits 0. An invalid flag exits 2.

Every flag can be set through HOOKD_<FLAG> (--max-payload-bytes is
HOOKD_MAX_PAYLOAD_BYTES).`,
		Example: `  hookd serve
  hookd serve --addr 0.0.0.0:8071 --db /var/lib/hookd/hookd.db
  HOOKD_ADMIN_TOKEN=… hookd serve --db postgres://hookd@db:5432/hookd
  hookd serve --allow-private --retry-schedule short   # local development`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.apply(&cfg, cmd.ErrOrStderr()); err != nil {
				return withCode(exitUsage, err)
			}
			if err := cfg.Validate(); err != nil {
				return withCode(exitUsage, err)
			}
			if f.pprofAddr != "" {
				if err := servePprof(f.pprofAddr, cmd.ErrOrStderr()); err != nil {
					return withCode(exitError, err)
				}
			}
			return runServe(cmd, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address of the API (\":0\" picks a free port)")
	fl.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file path, or a postgres:// URL")
	fl.Int32Var(&cfg.DBMaxConns, "db-max-conns", cfg.DBMaxConns, "PostgreSQL: maximum pool connections")
	fl.Int32Var(&cfg.DBMinConns, "db-min-conns", cfg.DBMinConns, "PostgreSQL: minimum pool connections")
	fl.StringVar(&cfg.AdminToken, "admin-token", "", "an admin API key (at least 16 characters), added to the database's keys if new; a key is generated on first start if unset")
	fl.StringVar(&cfg.EncryptionKey, "encryption-key", "", "main key (32 bytes, base64 or hex) that secrets are encrypted under at rest; default: the key file beside a SQLite database, created on first start")
	fl.StringVar(&cfg.EncryptionKeyFile, "encryption-key-file", "", "file holding the main encryption key (default for SQLite: the database path + .key)")
	fl.StringVar(&cfg.PublicURL, "public-url", "", "base URL customers reach hookd at, for app portal links (default: the listen address)")
	fl.BoolVar(&cfg.PublicMetrics, "public-metrics", false, "serve /metrics without a token (by default it needs an admin API key)")
	fl.Int64Var(&cfg.MaxPayloadBytes, "max-payload-bytes", cfg.MaxPayloadBytes, "largest accepted message payload in bytes")
	fl.StringVar(&f.retrySchedule, "retry-schedule", f.retrySchedule, "default retry schedule: default, short, exponential, none, exponential:BASE,MAX,N or delays like 5s,5m,30m,2h")
	fl.DurationVar(&cfg.RequestTimeout, "request-timeout", cfg.RequestTimeout, "timeout of one delivery request")
	fl.IntVar(&cfg.ResponseBodyCap, "response-body-cap", cfg.ResponseBodyCap, "bytes of each response body kept in the attempt log")
	fl.IntVar(&cfg.AttemptHeadersCap, "attempt-headers-cap", cfg.AttemptHeadersCap, "bytes of the request headers sent and of the response headers received kept in the attempt log (each side)")
	fl.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent outgoing delivery requests")
	fl.IntVar(&cfg.EndpointConcurrency, "endpoint-concurrency", cfg.EndpointConcurrency, "concurrent requests to one endpoint, shared among the nodes on one database")
	fl.BoolVar(&cfg.SvixHeaders, "svix-headers", false, "sign with svix-id/svix-timestamp/svix-signature header names")
	fl.BoolVar(&cfg.AllowPrivate, "allow-private", false, "let deliveries reach loopback and private addresses (development only)")
	fl.StringSliceVar(&f.allowCIDRs, "allow-cidr", nil, "networks deliveries may reach despite the SSRF guard (repeatable or comma-separated)")
	fl.StringVar(&cfg.Proxy, "proxy", "", "send every delivery through this proxy: http://HOST:PORT (CONNECT) or socks5://HOST:PORT, optionally with USER:PASS@")
	fl.StringSliceVar(&f.sourceAddrs, "source-addr", nil, "send deliveries from this local address (repeatable; used in turn)")
	fl.StringSliceVar(&f.egressIPs, "egress-ips", nil, "addresses or CIDRs deliveries come from, published at GET /api/v1/egress-ips for receivers to allowlist")
	fl.BoolVar(&cfg.RequireHTTPS, "require-https", false, "refuse http:// endpoint URLs, at the API (422) and at delivery time")
	fl.BoolVar(&cfg.EnforceSchemas, "enforce-schemas", false, "refuse (422) a message whose payload its event type's newest JSON Schema does not validate, for every event type")
	fl.DurationVar(&cfg.DisableAfter, "disable-after", cfg.DisableAfter, "disable an endpoint failing continuously this long")
	fl.IntVar(&cfg.FailingAfter, "failing-after", cfg.FailingAfter, "failed attempts of a message after which message.attempt.failing is sent")
	fl.IntVar(&cfg.CircuitFailures, "circuit-failures", cfg.CircuitFailures, "consecutive failures (no answer or 5xx) that open an endpoint's circuit; 0 turns circuit breaking off")
	fl.DurationVar(&cfg.CircuitBackoff, "circuit-backoff", cfg.CircuitBackoff, "how long an open circuit waits before its probe; doubled after each failed probe")
	fl.DurationVar(&cfg.CircuitMaxBackoff, "circuit-max-backoff", cfg.CircuitMaxBackoff, "longest wait between an open circuit's probes")
	fl.DurationVar(&cfg.RotationGrace, "rotation-grace", cfg.RotationGrace, "how long a rotated-out endpoint secret keeps signing")
	fl.DurationVar(&cfg.IdempotencyTTL, "idempotency-ttl", cfg.IdempotencyTTL, "how long the answer to a request with an Idempotency-Key is kept and replayed")
	fl.DurationVar(&cfg.Retention, "retention", cfg.Retention, "how long message payloads and attempt response bodies and headers are kept (a message's payloadRetentionPeriod/payloadRetentionHours overrides it)")
	fl.DurationVar(&cfg.MetadataRetention, "metadata-retention", cfg.MetadataRetention, "how long messages, deliveries and attempts are kept at all (ids, event types, times, status codes); at least --retention")
	fl.DurationVar(&cfg.PartitionWidth, "partition-width", cfg.PartitionWidth, "PostgreSQL: time each partition of the attempt log covers, for partitions made from now on (default one day)")
	fl.StringVar(&cfg.OperationalWebhookURL, "operational-webhook-url", "", "URL that receives operational events (endpoint.disabled, …)")
	fl.StringVar(&cfg.OperationalWebhookSecret, "operational-webhook-secret", "", "whsec_ secret signing the operational events")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the --admin-token, so it is not on the command line")
	fl.StringVar(&f.opsSecretFile, "operational-webhook-secret-file", "", "file holding the --operational-webhook-secret, so it is not on the command line")
	fl.StringVar(&f.logFormat, "log-format", f.logFormat, "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", f.logLevel, "log level: debug, info, warn or error")
	fl.StringSliceVar(&cfg.PortalFrameAncestors, "portal-frame-ancestors", nil, "origins that may embed the customer portal in an iframe, e.g. https://app.example.com (repeatable or comma-separated)")
	fl.StringVar(&cfg.PortalBrandName, "portal-brand-name", "", "your name, shown in the customer portal's header and title")
	fl.StringVar(&cfg.PortalBrandLogo, "portal-brand-logo", "", "logo of the customer portal: an https:// URL or an absolute path")
	fl.StringVar(&cfg.PortalBrandColor, "portal-brand-color", "", "accent colour of the customer portal, #rgb or #rrggbb")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's /debug/pprof profiles on this address (e.g. 127.0.0.1:6060; keep it private)")
	return cmd
}

// apply parses the flags that are not plain values into cfg; errors name the flag.
func (f *serveFlags) apply(cfg *server.Config, logOut io.Writer) error {
	// A malformed address is a usage error (exit 2); one that cannot be listened on,
	// such as a port in use, is found later and is a runtime error.
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("addr: %q is not HOST:PORT (%v)", cfg.Addr, err)
	}
	if n, err := strconv.Atoi(port); err == nil && (n < 0 || n > 65535) {
		return fmt.Errorf("addr: %q: port %d is not from 0 to 65535", cfg.Addr, n)
	}
	if err := readSecretFile("admin-token", f.adminTokenFile, &cfg.AdminToken); err != nil {
		return err
	}
	if err := readSecretFile("operational-webhook-secret", f.opsSecretFile, &cfg.OperationalWebhookSecret); err != nil {
		return err
	}
	rs, err := hookd.ParseRetrySchedule(f.retrySchedule)
	if err != nil {
		return fmt.Errorf("retry-schedule: %w", err)
	}
	cfg.RetrySchedule = rs
	if cfg.AllowCIDRs, err = server.ParseCIDRs("allow-cidr", f.allowCIDRs, false); err != nil {
		return err
	}
	cfg.SourceAddrs = nil
	for _, s := range f.sourceAddrs {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("source-addr: %q is not an IP address", s)
		}
		cfg.SourceAddrs = append(cfg.SourceAddrs, a)
	}
	if cfg.EgressIPs, err = server.ParseCIDRs("egress-ips", f.egressIPs, true); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("log-level: %q is not debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(logOut, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(logOut, opts))
	default:
		return fmt.Errorf("log-format: %q is not text or json", f.logFormat)
	}
	return nil
}

// readSecretFile sets *secret, the value of flag, from the file at path (if path is
// set), without its trailing line break. Giving both the value and the file is an
// error: one would silently win.
func readSecretFile(flag, path string, secret *string) error {
	if path == "" {
		return nil
	}
	if *secret != "" {
		return fmt.Errorf("%s-file: give either --%s or --%s-file, not both", flag, flag, flag)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s-file: %w", flag, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%s-file: %s must hold the secret on one line", flag, path)
	}
	*secret = v
	return nil
}

// serveGCPercent is serve's garbage collector target unless GOGC is set: the
// server's live heap is small (bounded queues), so collecting less often trades a few
// tens of megabytes for noticeably less CPU per delivery.
const serveGCPercent = 400

func runServe(cmd *cobra.Command, cfg server.Config) error {
	ctx := cmd.Context()
	out := cmd.ErrOrStderr()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	srv := server.New(cfg)
	if err := srv.Open(ctx); err != nil {
		return withCode(exitError, err)
	}
	if tok := srv.NewAdminToken(); tok != "" {
		fmt.Fprintf(out, "hookd: generated admin API key \"default\" (only its hash is stored; it will not be shown again):\n\n    %s\n\n", tok)
		fmt.Fprintln(out, "hookd: use it as \"Authorization: Bearer <key>\"; make more with \"hookd token create\"")
	}
	store := "SQLite " + cfg.DB
	if cfg.IsPostgres() {
		store = "PostgreSQL"
	}
	fmt.Fprintf(out, "hookd: listening on %s (store: %s)\n", srv.URL(), store)
	fmt.Fprintf(out, "hookd: dashboard at %s (sign in with an admin API key)\n", srv.DashboardURL())
	<-ctx.Done()
	fmt.Fprintln(out, "hookd: shutting down")
	if err := srv.Close(); err != nil {
		return withCode(exitError, fmt.Errorf("shut down: %w", err))
	}
	return nil
}

// servePprof serves the runtime profiles on their own listener, apart from the API
// (whose mux never exposes them), so profiling is opt-in and can stay on loopback.
func servePprof(addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	fmt.Fprintf(out, "hookd: pprof on http://%s/debug/pprof/\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return nil
}

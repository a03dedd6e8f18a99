// Package api is hookd's REST API: the /api/v1 surface of the Svix server API, served
// from a hookd.Store. It owns the business rules of the API (validation, ID and secret
// generation, fan-out of a message to its endpoints), maps hookd errors to HTTP
// statuses in one table and serves hookd's own OpenAPI document.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is what a Server needs.
type Config struct {
	// Store holds everything the API reads and writes.
	Store hookd.Store
	// Now is the clock; nil means time.Now.
	Now hookd.Clock
	// IDs makes the IDs of new objects.
	IDs hookd.IDGen
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// PublicURL is the server's own base URL as customers reach it (such as
	// https://hooks.example.com); app portal links start with it.
	PublicURL string
	// MaxPayloadBytes limits message payloads; request bodies may exceed it by the
	// size of the envelope around the payload.
	MaxPayloadBytes int64
	// DefaultRetrySchedule is the server-wide schedule (reported, never stored).
	DefaultRetrySchedule hookd.RetrySchedule
	// Retention is how long a message's payload is kept unless the message asks
	// otherwise (payloadRetentionPeriod, payloadRetentionHours); zero keeps payloads
	// until the message itself goes.
	Retention time.Duration
	// RotationGrace is how long a rotated-out endpoint secret keeps signing unless
	// the request says otherwise.
	RotationGrace time.Duration
	// ExpungedFunc, if set, is called after message or attempt content was erased by a
	// request that answers at once (the tasks reclaim on their own); the server then
	// runs the store's ReclaimExpunged in the background.
	ExpungedFunc func()
	// EmitFunc, if set, receives operational events (endpoint.created, endpoint.updated,
	// endpoint.deleted) with their data.
	EmitFunc func(ctx context.Context, eventType string, data any)
	// Registerer, if set, receives the API's request metrics.
	Registerer prometheus.Registerer
	// FanoutCacheTTL is how long accepting a message reuses the application and its
	// endpoints read for an earlier message (see fanoutCache): a change made by another
	// node takes at most this long to affect fan-out; this node's own API changes take
	// effect at once. Zero means one second; negative disables the cache.
	FanoutCacheTTL time.Duration
	// RequireHTTPS refuses http:// endpoint URLs in every application.
	RequireHTTPS bool
	// EgressIPs are the addresses (or networks) deliveries come from, published for
	// receivers to allowlist by GET /api/v1/egress-ips.
	EgressIPs []netip.Prefix
	// Tasks, if set, starts background tasks (recover, replay, bulk replay); without
	// it, those operations answer 503.
	Tasks Tasks
	// Relay, if set, serves the relay routes: `hookd listen` polls them for the
	// deliveries of its relay endpoint and posts the answers back.
	Relay hookd.Relay
	// EndpointChangedFunc, if set, is called after every change of an endpoint through
	// the API, before the answer; the server makes its dispatcher forget the endpoint.
	EndpointChangedFunc func(appID, endpointID string)
	// Dispatcher, if set, is this node's delivery dispatcher: a new message's
	// deliveries go to it as soon as they are stored, without waiting to be claimed.
	Dispatcher Dispatcher
	// EnforceSchemas validates every message's payload against its event type's
	// newest JSON Schema, as an event type's enforceSchema does for its own messages
	// (see schema.go). A change of an event type made on another node takes effect
	// after FanoutCacheTTL.
	EnforceSchemas bool
}

// Dispatcher is the part of the local delivery dispatcher that takes new deliveries
// directly (see delivery.Dispatcher.Take and hookd.Acceptor).
type Dispatcher = hookd.Handoff

// Server is the REST API as an http.Handler.
type Server struct {
	cfg    Config
	store  hookd.Store
	log    *slog.Logger
	mux    *http.ServeMux
	routes []route

	// keyLocks serialises requests that carry the same idempotency key on this node.
	keyMu    sync.Mutex
	keyLocks map[string]*keyLock

	fanout  *fanoutCache
	schemas *schemaCache
	tokens  tokenCache
	accept  hookd.Acceptor

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// route is one operation of the API.
type route struct {
	method  string
	pattern string
	// access is who may call the route; see Access.
	access Access
	// noReplay keeps the route's answers out of the idempotency store, because they
	// carry a secret (a new token or key) that must not be stored.
	noReplay bool
	// keyInTx makes the handler store its answer to a request with an
	// Idempotency-Key itself, in its own transaction (see idempotentInTx).
	keyInTx bool
	handle  func(s *Server, w http.ResponseWriter, r *http.Request) error
}

// maxEnvelopeBytes is what a request body may hold besides the payload.
const maxEnvelopeBytes = 64 << 10

// New returns the API server for cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IDs.Now == nil {
		cfg.IDs.Now = cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = hookd.DefaultMaxPayloadBytes
	}
	if cfg.RotationGrace <= 0 {
		cfg.RotationGrace = hookd.DefaultRotationGrace
	}
	if cfg.FanoutCacheTTL == 0 {
		cfg.FanoutCacheTTL = defaultFanoutTTL
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, mux: http.NewServeMux(),
		keyLocks: map[string]*keyLock{}, fanout: newFanoutCache(cfg.FanoutCacheTTL), schemas: newSchemaCache(cfg.FanoutCacheTTL),
		accept: hookd.Acceptor{Store: cfg.Store, Handoff: cfg.Dispatcher, IDs: cfg.IDs}}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_api_requests_total",
		Help: "API requests by route and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookd_api_request_duration_seconds",
		Help:    "API request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.requests, s.latency)
	}
	for _, rt := range allRoutes() {
		s.add(rt)
	}
	s.mux.Handle("/", s.wrap(route{pattern: "unmatched", access: Public, handle: func(*Server, http.ResponseWriter, *http.Request) error {
		return hookd.Errorf(hookd.ENOTFOUND, "no such path")
	}}))
	return s
}

// add registers one route; a route that does not say who may call it is a bug.
func (s *Server) add(rt route) {
	if rt.access < Public || rt.access > AppToken {
		panic("api: route " + rt.method + " " + rt.pattern + " declares no access")
	}
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
}

// Handle serves h at method and pattern (such as "GET /metrics") behind the same
// token check as the API's own routes, with the access it declares. The route is
// listed by Routes. It must be called before the server serves requests.
func (s *Server) Handle(method, pattern string, access Access, h http.Handler) {
	s.add(route{method: method, pattern: pattern, access: access, noReplay: true,
		handle: func(_ *Server, w http.ResponseWriter, r *http.Request) error {
			h.ServeHTTP(w, r)
			return nil
		}})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Routes returns the operations the server serves, as "METHOD /path/{param}".
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}

// messagesPattern is the route of the message list and of accepting a message.
const messagesPattern = "/api/v1/app/{app_id}/msg"

// allRoutes lists every operation; the OpenAPI test checks it against openapi.json.
func allRoutes() []route {
	const (
		app   = "/api/v1/app/{app_id}"
		ep    = app + "/endpoint/{endpoint_id}"
		msg   = app + "/msg/{msg_id}"
		et    = "/api/v1/event-type/{event_type_name}"
		ops   = "/api/v1/operational-webhook/endpoint"
		opsEp = ops + "/{endpoint_id}"
	)
	return []route{
		{method: "GET", pattern: "/api/v1/health", access: Public, handle: (*Server).health},
		{method: "GET", pattern: "/openapi.json", access: Public, handle: (*Server).openAPI},
		{method: "GET", pattern: "/api/v1/egress-ips", access: AnyRead, handle: (*Server).egressIPs},
		{method: "POST", pattern: "/api/v1/filter/test", access: AnyRead, handle: (*Server).testFilter},

		{method: "GET", pattern: "/api/v1/app", access: ServerRead, handle: (*Server).listApps},
		{method: "POST", pattern: "/api/v1/app", access: ServerWrite, handle: (*Server).createApp},
		{method: "GET", pattern: app, access: AppRead, handle: (*Server).getApp},
		{method: "PUT", pattern: app, access: AppAdmin, handle: (*Server).updateApp},
		{method: "PATCH", pattern: app, access: AppAdmin, handle: (*Server).patchApp},
		{method: "DELETE", pattern: app, access: AppAdmin, handle: (*Server).deleteApp},

		{method: "GET", pattern: app + "/endpoint", access: AppRead, handle: (*Server).listEndpoints},
		{method: "POST", pattern: app + "/endpoint", access: AppManage, handle: (*Server).createEndpoint},
		{method: "GET", pattern: ep, access: AppRead, handle: (*Server).getEndpoint},
		{method: "PUT", pattern: ep, access: AppManage, handle: (*Server).updateEndpoint},
		{method: "PATCH", pattern: ep, access: AppManage, handle: (*Server).patchEndpoint},
		{method: "DELETE", pattern: ep, access: AppManage, handle: (*Server).deleteEndpoint},
		{method: "GET", pattern: ep + "/headers", access: AppRead, handle: (*Server).getEndpointHeaders},
		{method: "PUT", pattern: ep + "/headers", access: AppManage, handle: (*Server).updateEndpointHeaders},
		{method: "PATCH", pattern: ep + "/headers", access: AppManage, handle: (*Server).patchEndpointHeaders},
		{method: "GET", pattern: ep + "/secret", access: AppSecret, handle: (*Server).getEndpointSecret},
		{method: "POST", pattern: ep + "/secret/rotate", access: AppRotate, handle: (*Server).rotateEndpointSecret},
		{method: "GET", pattern: ep + "/stats", access: AppRead, handle: (*Server).endpointStats},
		{method: "GET", pattern: ep + "/circuit", access: AppRead, handle: (*Server).getEndpointCircuit},
		{method: "POST", pattern: ep + "/recover", access: AppAttempts, handle: (*Server).recoverEndpoint},
		{method: "GET", pattern: ep + "/fifo", access: AppRead, handle: (*Server).getEndpointFIFO},
		{method: "POST", pattern: ep + "/fifo/release", access: AppAttempts, handle: (*Server).releaseFIFO},
		{method: "POST", pattern: ep + "/replay-missing", access: AppAttempts, handle: (*Server).replayMissing},
		{method: "POST", pattern: ep + "/bulk-replay", access: AppAttempts, handle: (*Server).bulkReplay},
		{method: "POST", pattern: ep + "/send-example", access: AppAttempts, handle: (*Server).sendExample},
		{method: "POST", pattern: ep + "/filter/test", access: AppRead, handle: (*Server).testEndpointFilter},
		{method: "GET", pattern: ep + "/msg", access: AppRead, handle: (*Server).listAttemptedMessages},
		{method: "GET", pattern: ep + "/mtls", access: AppRead, handle: (*Server).getEndpointMTLS},
		{method: "GET", pattern: ep + "/mtls-config", access: AppRead, handle: (*Server).getEndpointMTLSConfig},
		{method: "PUT", pattern: ep + "/mtls", access: AppManage, handle: (*Server).setEndpointMTLS},
		{method: "DELETE", pattern: ep + "/mtls", access: AppManage, handle: (*Server).deleteEndpointMTLS},
		{method: "GET", pattern: ep + "/ca", access: AppRead, handle: (*Server).getEndpointCA},
		{method: "PUT", pattern: ep + "/ca", access: AppManage, handle: (*Server).setEndpointCA},
		{method: "GET", pattern: ep + "/oauth", access: AppRead, handle: (*Server).getEndpointOAuth},
		{method: "GET", pattern: ep + "/oauth-config", access: AppRead, handle: (*Server).getEndpointOAuthConfig},
		{method: "PUT", pattern: ep + "/oauth", access: AppManage, handle: (*Server).setEndpointOAuth},
		{method: "DELETE", pattern: ep + "/oauth", access: AppManage, handle: (*Server).deleteEndpointOAuth},

		{method: "GET", pattern: "/api/v1/event-type", access: AnyRead, handle: (*Server).listEventTypes},
		{method: "POST", pattern: "/api/v1/event-type/import/openapi", access: ServerWrite, handle: (*Server).importEventTypesOpenAPI},
		{method: "POST", pattern: "/api/v1/event-type/export/openapi", access: ServerRead, handle: (*Server).exportEventTypesOpenAPI},
		{method: "POST", pattern: "/api/v1/event-type", access: ServerWrite, handle: (*Server).createEventType},
		{method: "GET", pattern: et, access: AnyRead, handle: (*Server).getEventType},
		{method: "PUT", pattern: et, access: ServerWrite, handle: (*Server).updateEventType},
		{method: "PATCH", pattern: et, access: ServerWrite, handle: (*Server).patchEventType},
		{method: "DELETE", pattern: et, access: ServerWrite, handle: (*Server).deleteEventType},
		{method: "GET", pattern: et + "/retry-schedule", access: AnyRead, handle: (*Server).getEventTypeRetrySchedule},
		{method: "PUT", pattern: et + "/retry-schedule", access: ServerWrite, handle: (*Server).setEventTypeRetrySchedule},

		{method: "GET", pattern: messagesPattern, access: AppRead, handle: (*Server).listMessages},
		{method: "POST", pattern: messagesPattern, access: AppAdmin, keyInTx: true, handle: (*Server).createMessage},
		{method: "POST", pattern: app + "/msg/precheck/active", access: AppRead, handle: (*Server).precheckMessage},
		{method: "POST", pattern: app + "/msg/bulk-expunge", access: AppAdmin, handle: (*Server).bulkExpunge},
		{method: "POST", pattern: app + "/msg/expunge-all-contents", access: AppAdmin, handle: (*Server).expungeAllContents},
		// hookd extension: the operator's expunge across applications.
		{method: "POST", pattern: "/api/v1/msg/expunge-all-contents", access: ServerWrite, handle: (*Server).expungeAllContentsEverywhere},
		{method: "GET", pattern: msg, access: AppRead, handle: (*Server).getMessage},
		{method: "DELETE", pattern: msg + "/content", access: AppAdmin, handle: (*Server).expungeMessageContent},
		{method: "GET", pattern: msg + "/endpoint", access: AppRead, handle: (*Server).listDestinations},
		{method: "GET", pattern: msg + "/endpoint/{endpoint_id}/attempt", access: AppRead, handle: (*Server).listAttemptsForEndpoint},
		{method: "POST", pattern: msg + "/endpoint/{endpoint_id}/resend", access: AppAttempts, handle: (*Server).resend},
		{method: "GET", pattern: msg + "/attempt/{attempt_id}", access: AppRead, handle: (*Server).getAttempt},
		{method: "GET", pattern: msg + "/attempt/{attempt_id}/headers", access: AppRead, handle: (*Server).getAttemptHeaders},
		{method: "DELETE", pattern: msg + "/attempt/{attempt_id}/content", access: AppAdmin, handle: (*Server).expungeAttemptContent},
		{method: "GET", pattern: app + "/attempt/msg/{msg_id}", access: AppRead, handle: (*Server).listAttemptsByMessage},
		{method: "GET", pattern: app + "/attempt/endpoint/{endpoint_id}", access: AppRead, handle: (*Server).listAttemptsByEndpoint},

		// hookd extension: relay endpoints for `hookd listen --forward-to`. Taking
		// deliveries in an endpoint's place is managing that endpoint.
		{method: "POST", pattern: app + "/relay", access: AppManage, handle: (*Server).createRelay},
		{method: "GET", pattern: app + "/relay/{endpoint_id}/requests", access: AppManage, handle: (*Server).pollRelay},
		{method: "POST", pattern: app + "/relay/{endpoint_id}/answer", access: AppManage, handle: (*Server).answerRelay},

		{method: "POST", pattern: "/api/v1/auth/app-portal-access/{app_id}", access: AppAdmin, noReplay: true, handle: (*Server).appPortalAccess},
		{method: "POST", pattern: "/api/v1/auth/app/{app_id}/expire-all", access: AppAdmin, handle: (*Server).expireAppTokens},
		{method: "POST", pattern: "/api/v1/auth/logout", access: AppToken, handle: (*Server).logout},
		{method: "GET", pattern: "/api/v1/auth/api-key", access: ServerRead, handle: (*Server).listAPIKeys},
		{method: "POST", pattern: "/api/v1/auth/api-key", access: ServerWrite, noReplay: true, handle: (*Server).createAPIKey},
		{method: "POST", pattern: "/api/v1/auth/api-key/{key_id}/expire", access: ServerWrite, handle: (*Server).expireAPIKey},

		{method: "GET", pattern: ops, access: ServerRead, handle: onOperational((*Server).listEndpoints)},
		{method: "POST", pattern: ops, access: ServerWrite, handle: onOperational((*Server).createEndpoint)},
		{method: "GET", pattern: opsEp, access: ServerRead, handle: onOperational((*Server).getEndpoint)},
		{method: "PUT", pattern: opsEp, access: ServerWrite, handle: onOperational((*Server).updateEndpoint)},
		{method: "DELETE", pattern: opsEp, access: ServerWrite, handle: onOperational((*Server).deleteEndpoint)},
		{method: "GET", pattern: opsEp + "/headers", access: ServerRead, handle: onOperational((*Server).getEndpointHeaders)},
		{method: "PUT", pattern: opsEp + "/headers", access: ServerWrite, handle: onOperational((*Server).updateEndpointHeaders)},
		{method: "GET", pattern: opsEp + "/secret", access: ServerWrite, handle: onOperational((*Server).getEndpointSecret)},
		{method: "POST", pattern: opsEp + "/secret/rotate", access: ServerWrite, handle: onOperational((*Server).rotateEndpointSecret)},

		{method: "POST", pattern: "/api/v1/stats/usage/app", access: ServerRead, handle: (*Server).appUsageStats},
		{method: "PUT", pattern: "/api/v1/stats/usage/event-types", access: ServerRead, handle: (*Server).aggregateEventTypes},

		// hookd extension: the operator's search across applications.
		{method: "GET", pattern: "/api/v1/search/msg", access: ServerRead, handle: (*Server).searchMessages},
		{method: "GET", pattern: "/api/v1/search/attempt", access: ServerRead, handle: (*Server).searchAttempts},

		{method: "GET", pattern: "/api/v1/background-task", access: ServerRead, handle: (*Server).listTasks},
		{method: "GET", pattern: "/api/v1/background-task/{task_id}", access: ServerRead, handle: (*Server).getTask},
	}
}

// wrap adds logging, metrics, the body limit, authentication and idempotency to one
// route's handler.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxPayloadBytes+maxEnvelopeBytes)
		}
		err := s.serve(rt, rec, r)
		if err != nil {
			s.writeError(rec, r, err)
		}
		d := time.Since(start)
		s.requests.WithLabelValues(rt.pattern, strconv.Itoa(rec.code())).Inc()
		s.latency.WithLabelValues(rt.pattern).Observe(d.Seconds())
		level := slog.LevelInfo
		if rec.code() >= 500 {
			level = slog.LevelError
		}
		// Only the method, path and outcome: never headers (Authorization) or bodies
		// (secrets, payloads).
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.code()), slog.Duration("duration", d))
	})
}

func (s *Server) serve(rt route, w http.ResponseWriter, r *http.Request) error {
	tok, err := s.authorize(rt.access, r)
	if err != nil {
		return err
	}
	r = withToken(r, tok)
	if err := checkRequestText(r); err != nil {
		return err
	}
	if changesFanout(r, rt) {
		// Before, so that no message accepted from now on sees a stale cache entry, and
		// after, so that no read made during the change is cached.
		s.fanout.invalidate()
		defer s.fanout.invalidate()
	}
	if changesEventTypes(r, rt) {
		s.schemas.invalidate()
		defer s.schemas.invalidate()
	}
	if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" && !rt.noReplay {
		return s.idempotent(tok.Hash, rt, w, r)
	}
	return rt.handle(s, w, r)
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.Ping(r.Context()); err != nil {
		return &hookd.Error{Code: hookd.EUNAVAILABLE, Message: "store unavailable", Err: err}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// now is the API's clock, at the microsecond precision both stores keep, so that an
// object reads back with the timestamps its create answer showed.
func (s *Server) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

func (s *Server) emit(ctx context.Context, eventType string, data any) {
	if s.cfg.EmitFunc != nil {
		s.cfg.EmitFunc(ctx, eventType, data)
	}
}

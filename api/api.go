// Package api is hookd's REST API: the /api/v1 surface of the Svix server API, served
// from a hookd.Store. It owns the business rules of the API (validation, ID and secret
// generation, fan-out of a message to its endpoints), maps hookd errors to HTTP
// statuses in one table and serves hookd's own OpenAPI document.
package api

import (
	"context"
	"log/slog"
	"net/http"
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
	// AdminTokenHash is the hex SHA-256 of the admin bearer token (see HashToken).
	AdminTokenHash string
	// MaxPayloadBytes limits message payloads; request bodies may exceed it by the
	// size of the envelope around the payload.
	MaxPayloadBytes int64
	// DefaultRetrySchedule is the server-wide schedule (reported, never stored).
	DefaultRetrySchedule hookd.RetrySchedule
	// RotationGrace is how long a rotated-out endpoint secret keeps signing unless
	// the request says otherwise.
	RotationGrace time.Duration
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
	// Dispatcher, if set, is this node's delivery dispatcher: a new message's
	// deliveries go to it as soon as they are stored, without waiting to be claimed.
	Dispatcher Dispatcher
}

// Dispatcher is the part of the local delivery dispatcher that takes new deliveries
// directly (see delivery.Dispatcher.Take): Take marks those it has room for as leased
// to it before they are stored; Deliver starts them once stored, Abandon forgets them
// if the store refused them.
type Dispatcher interface {
	Take(msg *hookd.Message, ds []*hookd.Delivery) []*hookd.Delivery
	Deliver(taken []*hookd.Delivery)
	Abandon(taken []*hookd.Delivery)
}

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

	fanout *fanoutCache

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// route is one operation of the API.
type route struct {
	method  string
	pattern string
	public  bool // served without a token
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
		cfg.MaxPayloadBytes = 1 << 20
	}
	if cfg.RotationGrace <= 0 {
		cfg.RotationGrace = 24 * time.Hour
	}
	if cfg.FanoutCacheTTL == 0 {
		cfg.FanoutCacheTTL = defaultFanoutTTL
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, mux: http.NewServeMux(),
		keyLocks: map[string]*keyLock{}, fanout: newFanoutCache(cfg.FanoutCacheTTL)}
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
	s.routes = allRoutes()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	s.mux.Handle("/", s.wrap(route{pattern: "unmatched", public: true, handle: func(*Server, http.ResponseWriter, *http.Request) error {
		return hookd.Errorf(hookd.ENOTFOUND, "no such path")
	}}))
	return s
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
		app = "/api/v1/app/{app_id}"
		ep  = app + "/endpoint/{endpoint_id}"
		msg = app + "/msg/{msg_id}"
		et  = "/api/v1/event-type/{event_type_name}"
	)
	return []route{
		{method: "GET", pattern: "/api/v1/health", public: true, handle: (*Server).health},
		{method: "GET", pattern: "/openapi.json", public: true, handle: (*Server).openAPI},

		{method: "GET", pattern: "/api/v1/app", handle: (*Server).listApps},
		{method: "POST", pattern: "/api/v1/app", handle: (*Server).createApp},
		{method: "GET", pattern: app, handle: (*Server).getApp},
		{method: "PUT", pattern: app, handle: (*Server).updateApp},
		{method: "PATCH", pattern: app, handle: (*Server).patchApp},
		{method: "DELETE", pattern: app, handle: (*Server).deleteApp},

		{method: "GET", pattern: app + "/endpoint", handle: (*Server).listEndpoints},
		{method: "POST", pattern: app + "/endpoint", handle: (*Server).createEndpoint},
		{method: "GET", pattern: ep, handle: (*Server).getEndpoint},
		{method: "PUT", pattern: ep, handle: (*Server).updateEndpoint},
		{method: "PATCH", pattern: ep, handle: (*Server).patchEndpoint},
		{method: "DELETE", pattern: ep, handle: (*Server).deleteEndpoint},
		{method: "GET", pattern: ep + "/headers", handle: (*Server).getEndpointHeaders},
		{method: "PUT", pattern: ep + "/headers", handle: (*Server).updateEndpointHeaders},
		{method: "PATCH", pattern: ep + "/headers", handle: (*Server).patchEndpointHeaders},
		{method: "GET", pattern: ep + "/secret", handle: (*Server).getEndpointSecret},
		{method: "POST", pattern: ep + "/secret/rotate", handle: (*Server).rotateEndpointSecret},
		{method: "GET", pattern: ep + "/stats", handle: (*Server).endpointStats},
		{method: "POST", pattern: ep + "/recover", handle: (*Server).recoverEndpoint},
		{method: "POST", pattern: ep + "/replay-missing", handle: (*Server).replayMissing},
		{method: "GET", pattern: ep + "/msg", handle: (*Server).listAttemptedMessages},

		{method: "GET", pattern: "/api/v1/event-type", handle: (*Server).listEventTypes},
		{method: "POST", pattern: "/api/v1/event-type", handle: (*Server).createEventType},
		{method: "GET", pattern: et, handle: (*Server).getEventType},
		{method: "PUT", pattern: et, handle: (*Server).updateEventType},
		{method: "PATCH", pattern: et, handle: (*Server).patchEventType},
		{method: "DELETE", pattern: et, handle: (*Server).deleteEventType},

		{method: "GET", pattern: messagesPattern, handle: (*Server).listMessages},
		{method: "POST", pattern: messagesPattern, handle: (*Server).createMessage},
		{method: "GET", pattern: msg, handle: (*Server).getMessage},
		{method: "DELETE", pattern: msg + "/content", handle: (*Server).expungeMessageContent},
		{method: "GET", pattern: msg + "/endpoint", handle: (*Server).listDestinations},
		{method: "GET", pattern: msg + "/endpoint/{endpoint_id}/attempt", handle: (*Server).listAttemptsForEndpoint},
		{method: "POST", pattern: msg + "/endpoint/{endpoint_id}/resend", handle: (*Server).resend},
		{method: "GET", pattern: msg + "/attempt/{attempt_id}", handle: (*Server).getAttempt},
		{method: "DELETE", pattern: msg + "/attempt/{attempt_id}/content", handle: (*Server).expungeAttemptContent},
		{method: "GET", pattern: app + "/attempt/msg/{msg_id}", handle: (*Server).listAttemptsByMessage},
		{method: "GET", pattern: app + "/attempt/endpoint/{endpoint_id}", handle: (*Server).listAttemptsByEndpoint},
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
	var tokenHash string
	if !rt.public {
		h, err := s.authenticate(r)
		if err != nil {
			return err
		}
		tokenHash = h
	}
	if changesFanout(r, rt) {
		// Before, so that no message accepted from now on sees a stale cache entry, and
		// after, so that no read made during the change is cached.
		s.fanout.invalidate()
		defer s.fanout.invalidate()
	}
	if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
		return s.idempotent(tokenHash, rt, w, r)
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

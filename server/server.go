package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/crypt"
	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/relay"
	"github.com/hookd/hookd/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownTimeout bounds how long Close waits for requests in flight.
const shutdownTimeout = 10 * time.Second

// Server is a running hookd server: store, API, dashboard, delivery workers, relay hub
// and background tasks.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      hookd.Clock
	store    hookd.Store
	api      *api.Server
	ui       http.Handler
	registry *prometheus.Registry
	ln       net.Listener
	http     *http.Server
	served   chan error
	newToken string
	// relay connects relay endpoints with their listeners on this node.
	relay *relay.Hub

	keyring   *crypt.Keyring
	stopWatch context.CancelFunc

	// dlv is the delivery engine's state; see delivery.go.
	dlv deliveryState
	// ret is the purge loop's state; see retention.go.
	ret retention
	// stopStorage ends the storage watch; see storage.go.
	stopStorage func()
	// tasks is the background task runner; see task.go.
	tasks taskState
	// reclaim runs ReclaimExpunged after an expunge; see expunge.go.
	reclaim reclaimer
}

// New returns a server for cfg; Open starts it.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, registry: prometheus.NewRegistry(), relay: relay.New(),
		reclaim: reclaimer{kick: make(chan struct{}, 1)}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Open validates the configuration, opens the store, makes sure an admin token exists,
// starts listening and serving the API, and starts the delivery workers. On error,
// everything opened so far is closed again.
func (s *Server) Open(ctx context.Context) (err error) {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.store, err = OpenStore(ctx, s.cfg); err != nil {
		return err
	}
	if err := s.openSealed(ctx); err != nil {
		return err
	}
	if err := s.ensureAdminKeys(ctx); err != nil {
		return err
	}
	if s.ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
		return fmt.Errorf("addr: listen on %s: %w", s.cfg.Addr, err)
	}
	publicURL := s.cfg.PublicURL
	if publicURL == "" {
		publicURL = s.URL()
	}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.api = api.New(api.Config{
		Store:                s.store,
		Now:                  s.now,
		IDs:                  hookd.IDGen{Now: s.now},
		Logger:               s.log,
		PublicURL:            publicURL,
		MaxPayloadBytes:      s.cfg.MaxPayloadBytes,
		DefaultRetrySchedule: s.cfg.RetrySchedule,
		RotationGrace:        s.cfg.RotationGrace,
		Retention:            s.cfg.Retention,
		EmitFunc:             s.emitOperational,
		Registerer:           s.registry,
		Dispatcher:           localDispatcher{s},
		EndpointChangedFunc:  s.forgetEndpoint,
		RequireHTTPS:         s.cfg.RequireHTTPS,
		EnforceSchemas:       s.cfg.EnforceSchemas,
		EgressIPs:            s.cfg.EgressIPs,
		Tasks:                s.newTasks(),
		ExpungedFunc:         s.expunged,
		Relay:                s.relay,
	})
	if s.ui, err = s.newUI(ctx); err != nil {
		return err
	}
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(s.ln) }()
	if err := s.startDelivery(ctx); err != nil {
		return fmt.Errorf("start delivery: %w", err)
	}
	s.startRetention()
	s.startTasks()
	s.startReclaimer()
	s.startStorageWatch()
	return nil
}

// OpenStore opens cfg.DB: SQLite by path or PostgreSQL by URL, with the schema
// migrated. Commands that work on the database without serving use it.
func OpenStore(ctx context.Context, cfg Config) (hookd.Store, error) {
	if cfg.IsPostgres() {
		st, err := postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: cfg.DBMaxConns, MinConns: cfg.DBMinConns,
			PartitionWidth: cfg.PartitionWidth})
		if err != nil {
			return nil, fmt.Errorf("db: open PostgreSQL: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("db: open SQLite %s: %w", cfg.DB, err)
	}
	return st, nil
}

// handler serves the API and the operational endpoints, each behind the API\'s token
// check with the access it declares, and beside them the dashboard and the portal,
// whose pages check their own sessions (see package ui).
func (s *Server) handler() http.Handler {
	s.api.Handle("GET", "/healthz", api.Public, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	s.api.Handle("GET", "/readyz", api.Public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			if hookd.ErrorCode(err) == hookd.ESTORAGEFULL {
				_, _ = w.Write([]byte("storage_full: the database's disk is full\n"))
				return // logged once by the storage watch
			}
			s.log.Warn("readiness check failed", "err", err)
			_, _ = w.Write([]byte("store unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	s.api.Handle("GET", "/metrics", s.metricsAccess(), promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/ui", s.ui)
	mux.Handle("/ui/", s.ui)
	mux.Handle("/portal", s.ui)
	mux.Handle("/portal/", s.ui)
	mux.HandleFunc("GET /{$}", redirectToUI)
	mux.Handle("/", s.api)
	return mux
}

// Routes returns every route the server serves, as "METHOD /path/{param}".
func (s *Server) Routes() []string { return s.api.Routes() }

// URL returns the base URL the server listens on, such as http://127.0.0.1:8071.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	addr, ok := s.ln.Addr().(*net.TCPAddr)
	if !ok {
		return "http://" + s.ln.Addr().String()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1" // listening on every interface: loopback is one of them
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Store returns the server's store.
func (s *Server) Store() hookd.Store { return s.store }

// Registry returns the Prometheus registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Close stops accepting requests, waits for those in flight, stops the delivery
// workers and closes the store.
func (s *Server) Close() error {
	var errs []error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down http: %w", err))
		}
		cancel()
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
		s.http = nil
	}
	if s.stopStorage != nil {
		s.stopStorage()
		s.stopStorage = nil
	}
	s.stopTasks()
	s.stopReclaimer()
	s.stopDelivery()
	s.stopRetention()
	errs = append(errs, s.closeAll())
	return errors.Join(errs...)
}

// closeAll releases the listener and the store.
func (s *Server) closeAll() error {
	var errs []error
	if s.ln != nil {
		_ = s.ln.Close() // already closed by a shutdown
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		s.store = nil
	}
	return errors.Join(errs...)
}

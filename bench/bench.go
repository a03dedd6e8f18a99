// Package bench is the harness behind `hookd bench`: it measures how fast a hookd
// server delivers webhooks end to end, and how that compares with the fastest a bare
// Go HTTP client can POST the same bodies to the same receiver.
//
// One run has two phases that share a loopback receiver, which verifies every
// signature and records every arrival:
//
//  1. The ceiling: Concurrency goroutines POST signed bodies of PayloadBytes to the
//     receiver with a tuned http.Transport, for as many requests as the hookd phase
//     will deliver (at most CeilingDuration). It runs first, while no hookd server
//     is busy, so the two phases never compete for the CPU.
//  2. The hookd phase: the bench creates Apps applications with Fanout endpoints each
//     (all pointing at the receiver, each with its own secret), posts messages through
//     the API, closed-loop with Concurrency clients or open-loop at Rate messages/s,
//     and waits until every delivery has arrived or Timeout has passed.
//
// Latency is measured from the moment the API answered 2xx to the moment the receiver
// had verified the delivery, on one monotonic clock in the bench process.
//
// With Backlog > 0 the receiver stops answering (it holds every request open) while
// Backlog messages are accepted; it is then released and the drain rate is measured
// from the release to the last arrival. Holding, rather than failing, requests keeps
// the retry schedule out of the measurement: nothing fails, the server simply cannot
// deliver until the receiver comes back, and the accepted work piles up in the store.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// EventType is the event type of every message the bench sends.
const EventType = "hookd.bench"

// Config describes one benchmark run. Start from DefaultConfig.
type Config struct {
	// URL targets a running hookd server (with Token, an admin token). When empty,
	// the bench starts ServerCommand as a child process.
	URL   string
	Token string
	// PID is the process ID of the server at URL, to report its peak RSS; 0: unknown.
	PID int

	// ServerCommand starts a server, e.g. {"/usr/bin/hookd", "serve"}; the bench
	// adds --addr, --db, --allow-private and ServerArgs, and passes a fresh admin
	// token in HOOKD_ADMIN_TOKEN.
	ServerCommand []string
	// ServerArgs are extra arguments for the started server (tuning flags).
	ServerArgs []string
	// Store is "sqlite" or "postgres", for a started server.
	Store string
	// DB is the started server's database: a SQLite path (default: a file in a
	// temporary directory, removed afterwards) or, for postgres, the DSN (required).
	DB string
	// Nodes is the number of servers started on the one database (postgres only);
	// messages are sent to them in turn, so each node ingests and delivers.
	Nodes int
	// ServerLog receives the started server's output; nil discards it.
	ServerLog io.Writer

	// Messages is the number of messages to send; Duration, if set instead, sends
	// for that long.
	Messages int
	Duration time.Duration
	// Rate, when positive, sends open-loop at this many messages per second instead
	// of as fast as Concurrency clients can.
	Rate float64
	// Concurrency is the number of concurrent API clients, and of the ceiling's
	// clients.
	Concurrency int
	// PayloadBytes is the size of each message's JSON payload (and delivered body).
	PayloadBytes int
	// Fanout is the number of endpoints each message goes to.
	Fanout int
	// Apps is the number of applications; messages are spread over them in turn.
	Apps int
	// FailingRatio is the share (0–1) of first delivery attempts the receiver
	// answers with 503, to exercise retries.
	FailingRatio float64
	// Backlog, when positive, accepts this many messages while the receiver does not
	// answer, then releases it and measures the drain.
	Backlog int
	// BacklogBulk writes the Backlog's messages and their pending deliveries into
	// the store with bulk SQL instead of sending them through the API (backlog.go).
	// With URL it needs DB, the server's database.
	BacklogBulk bool
	// Profile is the signature profile the receiver verifies with ("" = standard).
	Profile string
	// FIFO makes the endpoints ordered (fifo: true).
	FIFO bool
	// OrderingKeys, when positive, spreads the messages over this many ordering keys
	// in turn; 0 sends them without one.
	OrderingKeys int
	// Preload, when positive, writes this many attempts (with their messages and
	// deliveries) into the store before the run, with bulk SQL (preload.go). With
	// URL it needs DB, the server's database.
	Preload int
	// ListRequests is how many times each attempt list is read after the run, to
	// measure API read latency on the filled store; 0 skips it.
	ListRequests int

	// IdempotencyKeys makes every message POST carry a unique Idempotency-Key, as
	// the Svix SDKs do; false sends none.
	IdempotencyKeys bool

	// CeilingConcurrency is the ceiling's number of clients (0: Concurrency).
	CeilingConcurrency int
	// CeilingDuration bounds the ceiling phase; 0 skips it.
	CeilingDuration time.Duration
	// RelayDuration bounds the durable relay's phase; 0 skips it.
	RelayDuration time.Duration
	// FloorDuration bounds the floor's phase (floor.go: the relay with the least
	// SQLite work a sender with hookd's guarantees must do; with Store "postgres"
	// the least PostgreSQL work, in a schema of its own in DB: pgfloor.go); 0 skips it.
	FloorDuration time.Duration

	// ProfileDir, when set, receives cpu.pprof (ProfileSeconds of the hookd phase,
	// from its start) and heap.pprof (at its end) from the server's /debug/pprof: the
	// started server gets --pprof-addr; a --url server must serve them at PprofURL.
	// bench-cpu.pprof is this process's own CPU profile over the same seconds.
	ProfileDir     string
	ProfileSeconds int
	PprofURL       string

	// Soak samples the store's size (and the interval's rates) every SampleInterval
	// while the run goes on; with Retention the started server keeps payloads that
	// long and rows twice that long, so the size should level off.
	Soak           bool
	Retention      time.Duration
	SampleInterval time.Duration

	// Timeout bounds the whole run; deliveries still missing then are lost.
	Timeout time.Duration
	// Progress receives a progress line every ProgressInterval; nil: none.
	Progress         io.Writer
	ProgressInterval time.Duration
	// ProgressCR rewrites one line with '\r' (for terminals) instead of printing
	// a line each time.
	ProgressCR bool
}

// DefaultConfig returns the configuration `hookd bench` starts from.
func DefaultConfig() Config {
	return Config{
		Store:            "sqlite",
		Nodes:            1,
		Messages:         10000,
		Concurrency:      32,
		PayloadBytes:     1024,
		Fanout:           1,
		Apps:             1,
		ListRequests:     50,
		IdempotencyKeys:  true,
		CeilingDuration:  10 * time.Second,
		RelayDuration:    10 * time.Second,
		Timeout:          10 * time.Minute,
		ProgressInterval: time.Second,
	}
}

// Validate reports the invalid fields, named as their flags.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" && len(c.ServerCommand) == 0 {
		errs = append(errs, errors.New("url: give a server URL or a server command to start"))
	}
	if c.URL != "" && c.Token == "" {
		errs = append(errs, errors.New("token: required with --url"))
	}
	switch c.Store {
	case "sqlite":
	case "postgres":
		if c.URL == "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
			errs = append(errs, errors.New("db: --store postgres needs a postgres:// DSN"))
		}
	default:
		errs = append(errs, fmt.Errorf("store: %q is not sqlite or postgres", c.Store))
	}
	switch {
	case c.Nodes < 0:
		errs = append(errs, errors.New("nodes: must not be negative"))
	case c.Nodes > 1 && c.URL != "":
		errs = append(errs, errors.New("nodes: starts servers, so it cannot be combined with --url"))
	case c.Nodes > 1 && c.Store != "postgres":
		errs = append(errs, errors.New("nodes: several nodes share one database only with --store postgres"))
	}
	if c.Backlog < 0 {
		errs = append(errs, errors.New("backlog: must not be negative"))
	}
	if c.Backlog == 0 && c.Messages <= 0 && c.Duration <= 0 {
		errs = append(errs, errors.New("messages: give a positive --messages or --duration"))
	}
	if c.BacklogBulk && c.Backlog <= 0 {
		errs = append(errs, errors.New("backlog-bulk: needs a positive --backlog"))
	}
	if c.BacklogBulk && c.URL != "" && c.DB == "" {
		errs = append(errs, errors.New("backlog-bulk: needs --db, the --url server's database"))
	}
	if c.BacklogBulk && (c.FIFO || c.OrderingKeys > 0) {
		errs = append(errs, errors.New("backlog-bulk: writes unordered deliveries, so it cannot be combined with --fifo or --ordering-keys"))
	}
	if c.Backlog > 0 && c.Rate > 0 {
		errs = append(errs, errors.New("rate: cannot be combined with --backlog"))
	}
	if c.Preload < 0 || c.ListRequests < 0 {
		errs = append(errs, errors.New("preload, list-requests: must not be negative"))
	}
	if c.Preload > 0 && c.URL != "" && c.DB == "" {
		errs = append(errs, errors.New("preload: needs --db, the --url server's database"))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("rate: must not be negative"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency: must be at least 1"))
	}
	if c.PayloadBytes < 16 || c.PayloadBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("payload-size: %d is outside 16 bytes–1 MiB", c.PayloadBytes))
	}
	if c.Fanout < 1 || c.Fanout > 1000 {
		errs = append(errs, errors.New("fanout: must be between 1 and 1000"))
	}
	if c.Apps < 1 {
		errs = append(errs, errors.New("apps: must be at least 1"))
	}
	if c.OrderingKeys < 0 || c.OrderingKeys > 100000 {
		errs = append(errs, errors.New("ordering-keys: must be between 0 and 100000"))
	}
	if c.FailingRatio < 0 || c.FailingRatio > 1 {
		errs = append(errs, errors.New("failing-ratio: must be between 0 and 1"))
	}
	if c.CeilingConcurrency < 0 || c.CeilingDuration < 0 {
		errs = append(errs, errors.New("ceiling-concurrency, ceiling-duration: must not be negative"))
	}
	if c.RelayDuration < 0 {
		errs = append(errs, errors.New("relay-duration: must not be negative"))
	}
	if c.FloorDuration < 0 {
		errs = append(errs, errors.New("floor-duration: must not be negative"))
	}
	if c.FloorDuration > 0 && c.Store == "postgres" && c.URL != "" && c.DB == "" {
		errs = append(errs, errors.New("floor-duration: the PostgreSQL floor needs --db, the --url server's database"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	if c.Soak && c.SampleInterval <= 0 {
		errs = append(errs, errors.New("sample-interval: must be positive with --soak"))
	}
	if c.Retention > 0 && (!c.Soak || c.URL != "") {
		errs = append(errs, errors.New("retention: sets the started server's retention in a --soak run"))
	}
	if _, err := webhook.LookupProfile(c.Profile); err != nil {
		errs = append(errs, fmt.Errorf("profile: %w", err))
	}
	return errors.Join(errs...)
}

// Result is what one run measured. Its JSON form is `hookd bench --json`.
type Result struct {
	// Messages is the number of messages the API accepted.
	Messages int64 `json:"messages"`
	// Deliveries is the number of distinct (message, endpoint) deliveries received
	// with a valid signature.
	Deliveries int64 `json:"deliveries"`
	// DeliveriesPerS is Deliveries over the time from the first message sent to the
	// last delivery received (with Backlog: from the release to the last delivery).
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// CeilingPerS is the bare client's requests/s to the same receiver.
	CeilingPerS float64 `json:"ceiling_per_s"`
	// Ratio is DeliveriesPerS / CeilingPerS.
	Ratio float64 `json:"ratio"`
	// RelayCeilingPerS is the durable relay's deliveries/s (relay.go): the same
	// clients, bodies and receiver, each request appended to a file with
	// group-committed fsync and forwarded before it is answered.
	RelayCeilingPerS float64 `json:"relay_ceiling_per_s"`
	// RelayRatio is DeliveriesPerS / RelayCeilingPerS.
	RelayRatio float64 `json:"relay_ratio"`
	// LatencyMS is API accept → verified receipt, over every delivery. hookd starts
	// delivering once a message is stored, before its answer reaches the client, so a
	// delivery that arrives first counts as 0.
	LatencyMS Latency `json:"latency_ms"`
	// EndToEndLatencyMS is API request sent → verified receipt: the ingest round trip
	// included, never negative.
	EndToEndLatencyMS Latency `json:"end_to_end_latency_ms"`
	// IngestPerS is accepted messages per second while sending.
	IngestPerS float64 `json:"ingest_per_s"`
	// PeakRSSMB is the server's peak resident set (VmHWM), the largest node's with
	// several; nil when unknown.
	PeakRSSMB *float64 `json:"peak_rss_mb"`
	// Lost counts accepted deliveries that never arrived.
	Lost int64 `json:"lost"`
	// Duplicates counts second successful receipts of one delivery.
	Duplicates int64 `json:"duplicates"`
	// InvalidSignatures counts requests that failed verification.
	InvalidSignatures int64 `json:"invalid_signatures"`

	// ExpectedDeliveries is Messages × Fanout.
	ExpectedDeliveries int64 `json:"expected_deliveries"`
	// APIErrors counts message posts that did not get a 2xx; FirstAPIError is the
	// first of them.
	APIErrors     int64  `json:"api_errors"`
	FirstAPIError string `json:"first_api_error,omitempty"`
	// Unexpected counts deliveries of messages the API never reported accepting.
	Unexpected int64 `json:"unexpected"`
	// FailedOnPurpose counts first attempts the receiver failed (FailingRatio).
	FailedOnPurpose int64 `json:"failed_on_purpose"`
	// IngestLatencyMS is the API's POST …/msg round trip.
	IngestLatencyMS Latency `json:"ingest_latency_ms"`
	// CeilingDeliveries and CeilingLatencyMS describe the ceiling phase.
	CeilingDeliveries int64   `json:"ceiling_deliveries"`
	CeilingLatencyMS  Latency `json:"ceiling_latency_ms"`
	// RelayDeliveries, RelayCommits (fsyncs of its log) and RelayLatencyMS (its
	// POST round trip) describe the relay phase.
	RelayDeliveries int64   `json:"relay_deliveries"`
	RelayCommits    int64   `json:"relay_commits"`
	RelayLatencyMS  Latency `json:"relay_latency_ms"`
	// FloorPerS is the floor's deliveries/s (floor.go): the relay keeping each
	// message (with its Idempotency-Key uniquely indexed) and each attempt in SQLite
	// (PostgreSQL with Store "postgres": pgfloor.go) instead of a file; 0 when
	// FloorDuration is 0. FloorRatio is FloorPerS / RelayCeilingPerS, the most
	// relay_ratio a sender on that store can reach here; FloorCeilingRatio is
	// FloorPerS / CeilingPerS, the most ratio can.
	FloorPerS         float64 `json:"floor_per_s"`
	FloorRatio        float64 `json:"floor_ratio"`
	FloorCeilingRatio float64 `json:"floor_ceiling_ratio"`
	// FloorDeliveries, FloorCommits (of its database) and FloorLatencyMS (its POST
	// round trip) describe the floor phase.
	FloorDeliveries int64   `json:"floor_deliveries"`
	FloorCommits    int64   `json:"floor_commits"`
	FloorLatencyMS  Latency `json:"floor_latency_ms"`
	// MessageAttemptsLatencyMS and EndpointAttemptsLatencyMS are the round trips of
	// GET …/attempt/msg/{msg_id} and …/attempt/endpoint/{endpoint_id} (one page),
	// read ListRequests times each after the run.
	MessageAttemptsLatencyMS  Latency `json:"message_attempts_latency_ms"`
	EndpointAttemptsLatencyMS Latency `json:"endpoint_attempts_latency_ms"`
	// PreloadS is how long writing Preload attempts took.
	PreloadS float64 `json:"preload_s,omitempty"`
	// DrainS is, with Backlog, the time from the release to the last delivery.
	DrainS float64 `json:"drain_s,omitempty"`
	// BacklogWriteS is, with BacklogBulk, how long writing the backlog took (IngestS
	// is then the same time, and IngestPerS the bulk write's messages/s).
	BacklogWriteS float64 `json:"backlog_write_s,omitempty"`
	// IngestS is the time spent sending; DurationS the hookd phase in all.
	IngestS   float64 `json:"ingest_s"`
	DurationS float64 `json:"duration_s"`
	// ServerCPUS is the server's user+system CPU time during the run, summed over
	// the nodes (started servers or PID only; -1 when unknown).
	ServerCPUS float64 `json:"server_cpu_s"`
	// CPU per delivery in milliseconds, which load moves far less than rates: the
	// server's in the hookd phase (ServerCPUS / Deliveries), and this process's
	// (its API clients and receiver; in the relay and floor phases also the relay
	// or floor, which run in it) in each phase. On a machine whose cores the phases
	// saturate, a phase's rate is about cores ÷ its CPU per delivery, so
	// relay_cpu_per_delivery_ms ÷ floor_cpu_per_delivery_ms estimates floor_ratio
	// without the noise of other load. 0 when unknown or the phase was skipped.
	ServerCPUPerDeliveryMS  float64 `json:"server_cpu_per_delivery_ms"`
	BenchCPUPerDeliveryMS   float64 `json:"bench_cpu_per_delivery_ms"`
	CeilingCPUPerDeliveryMS float64 `json:"ceiling_cpu_per_delivery_ms"`
	RelayCPUPerDeliveryMS   float64 `json:"relay_cpu_per_delivery_ms"`
	FloorCPUPerDeliveryMS   float64 `json:"floor_cpu_per_delivery_ms"`
	// TimedOut is set when Timeout passed before every delivery arrived.
	TimedOut bool `json:"timed_out"`

	// Sizes is a soak run's size curve.
	Sizes []SizeSample `json:"sizes,omitempty"`
	// RetentionS is a soak run's payload retention in seconds (0: none given).
	RetentionS float64 `json:"retention_s,omitempty"`

	// The run's parameters.
	Store        string  `json:"store"`
	Nodes        int     `json:"nodes"`
	Fanout       int     `json:"fanout"`
	Apps         int     `json:"apps"`
	Concurrency  int     `json:"concurrency"`
	PayloadBytes int     `json:"payload_bytes"`
	Rate         float64 `json:"rate,omitempty"`
	// IdempotencyKeys is whether every message POST carried an Idempotency-Key.
	IdempotencyKeys bool    `json:"idempotency_keys"`
	Backlog         int     `json:"backlog,omitempty"`
	BacklogBulk     bool    `json:"backlog_bulk,omitempty"`
	Preload         int     `json:"preload,omitempty"`
	FailingRatio    float64 `json:"failing_ratio,omitempty"`
	FIFO            bool    `json:"fifo,omitempty"`
	OrderingKeys    int     `json:"ordering_keys,omitempty"`
	CPUs            int     `json:"cpus"`
	GoVersion       string  `json:"go_version"`
}

// Problems lists what makes the run a failure: lost deliveries, invalid signatures,
// rejected messages, and duplicates when no failures were injected. Empty means
// the run passed.
func (r Result) Problems() []string {
	var p []string
	if r.Lost > 0 {
		p = append(p, fmt.Sprintf("%d deliveries lost", r.Lost))
	}
	if r.InvalidSignatures > 0 {
		p = append(p, fmt.Sprintf("%d invalid signatures", r.InvalidSignatures))
	}
	if r.Duplicates > 0 && r.FailingRatio == 0 {
		p = append(p, fmt.Sprintf("%d duplicate deliveries", r.Duplicates))
	}
	if r.APIErrors > 0 {
		p = append(p, fmt.Sprintf("%d messages rejected by the API (first: %s)", r.APIErrors, r.FirstAPIError))
	}
	if r.Unexpected > 0 {
		p = append(p, fmt.Sprintf("%d deliveries of unknown messages", r.Unexpected))
	}
	return p
}

// Run performs one benchmark run. It returns an error only when the run could not be
// carried out (server would not start, setup failed); lost deliveries and the like
// are part of the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.CeilingConcurrency == 0 {
		cfg.CeilingConcurrency = cfg.Concurrency
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = time.Second
	}
	if cfg.ProfileSeconds <= 0 {
		cfg.ProfileSeconds = 10
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	res := Result{
		Store: cfg.Store, Nodes: max(cfg.Nodes, 1), Fanout: cfg.Fanout, Apps: cfg.Apps, Concurrency: cfg.Concurrency,
		PayloadBytes: cfg.PayloadBytes, Rate: cfg.Rate, Backlog: cfg.Backlog, BacklogBulk: cfg.BacklogBulk, Preload: cfg.Preload,
		FailingRatio: cfg.FailingRatio, FIFO: cfg.FIFO, OrderingKeys: cfg.OrderingKeys, CPUs: runtime.NumCPU(),
		GoVersion: runtime.Version(), ServerCPUS: -1, IdempotencyKeys: cfg.IdempotencyKeys,
	}
	start := time.Now()
	rcv, err := newReceiver(start)
	if err != nil {
		return res, err
	}
	defer rcv.close()
	profile, _ := webhook.LookupProfile(cfg.Profile)
	payload := makePayload(cfg.PayloadBytes)
	body, err := json.Marshal(map[string]any{"eventType": EventType, "payload": json.RawMessage(payload)})
	if err != nil {
		return res, err
	}

	expected := cfg.Messages * cfg.Fanout
	if cfg.Backlog > 0 {
		expected = cfg.Backlog * cfg.Fanout
	}
	if cfg.CeilingDuration > 0 {
		limit := expected
		if cfg.Backlog == 0 && cfg.Messages <= 0 {
			limit = 0 // duration mode: the ceiling runs for CeilingDuration
		}
		c, err := runCeiling(ctx, rcv, profile, payload, cfg.CeilingConcurrency, limit, cfg.CeilingDuration)
		if err != nil {
			return res, err
		}
		res.CeilingPerS, res.CeilingDeliveries, res.CeilingLatencyMS = c.perS, c.deliveries, c.latency
		res.CeilingCPUPerDeliveryMS = c.cpuMS
		res.InvalidSignatures += c.invalid
		note(cfg, "ceiling: %d requests, %.0f/s with %d clients", c.deliveries, c.perS, cfg.CeilingConcurrency)
	}
	relayPhase := func(phase string, d time.Duration) (relayResult, error) {
		limit := expected / cfg.Fanout
		if cfg.Backlog == 0 && cfg.Messages <= 0 {
			limit = 0
		}
		r, err := runRelay(ctx, rcv, profile, body, relayDir(cfg), floorDSN(cfg), phase, cfg.Concurrency, cfg.Fanout, limit, d, cfg.IdempotencyKeys)
		res.InvalidSignatures += r.invalid
		return r, err
	}
	if cfg.RelayDuration > 0 {
		rl, err := relayPhase("relay", cfg.RelayDuration)
		if err != nil {
			return res, err
		}
		res.RelayCeilingPerS, res.RelayDeliveries, res.RelayCommits, res.RelayLatencyMS = rl.perS, rl.deliveries, rl.commits, rl.latency
		res.RelayCPUPerDeliveryMS = rl.cpuMS
		note(cfg, "relay: %d deliveries, %.0f/s with %d clients, %d fsyncs", rl.deliveries, rl.perS, cfg.Concurrency, rl.commits)
	}
	if cfg.FloorDuration > 0 {
		fl, err := relayPhase("floor", cfg.FloorDuration)
		if err != nil {
			return res, err
		}
		res.FloorPerS, res.FloorDeliveries, res.FloorCommits, res.FloorLatencyMS = fl.perS, fl.deliveries, fl.commits, fl.latency
		res.FloorCPUPerDeliveryMS = fl.cpuMS
		if res.RelayCeilingPerS > 0 {
			res.FloorRatio = fl.perS / res.RelayCeilingPerS
		}
		if res.CeilingPerS > 0 {
			res.FloorCeilingRatio = fl.perS / res.CeilingPerS
		}
		note(cfg, "floor: %d deliveries, %.0f/s with %d clients, %d commits", fl.deliveries, fl.perS, cfg.Concurrency, fl.commits)
	}

	bases, token, pids, dbs := []string{cfg.URL}, cfg.Token, []int{cfg.PID}, cfg.DB
	alive := func() error { return nil }
	if cfg.URL == "" {
		token = "bench_" + randomHex(24)
		bases, pids = nil, nil
		var nodes []*child
		for i := range max(cfg.Nodes, 1) {
			srv, err := startChild(ctx, &cfg, token, i == 0)
			if err != nil {
				return res, err
			}
			defer srv.stop()
			nodes = append(nodes, srv)
			bases, pids, dbs = append(bases, srv.url), append(pids, srv.pid()), srv.db
			note(cfg, "server: pid %d listening on %s", srv.pid(), srv.url)
		}
		alive = func() error {
			for _, srv := range nodes {
				if done, err := srv.exited(); done {
					return fmt.Errorf("server pid %d exited during the run (%v):\n%s", srv.pid(), err, srv.lastLines())
				}
			}
			return nil
		}
	}
	cpu0 := serverCPUSeconds(pids)

	apis := make([]*apiClient, len(bases))
	for i, base := range bases {
		apis[i] = newAPIClient(base, token, max(cfg.Concurrency, 64))
	}
	api := apis[0]
	eps, apps, err := setup(ctx, api, rcv, profile, cfg)
	if err != nil {
		return res, err
	}
	note(cfg, "setup: %d app(s), %d endpoint(s)", cfg.Apps, len(eps))
	paths := make([]string, len(apps))
	for i, a := range apps {
		paths[i] = msgPath(a.id)
	}
	if cfg.Preload > 0 {
		t0 := time.Now()
		if err := preload(ctx, cfg.Store, dbs, apps, cfg.Preload); err != nil {
			return res, err
		}
		res.PreloadS = time.Since(t0).Seconds()
		note(cfg, "preload: %d attempts in %.1fs", cfg.Preload, res.PreloadS)
	}
	trk := newTracker(cfg.Fanout, expected, cfg.FailingRatio)
	invalidBefore := rcv.invalid.Load()
	rcv.setPhase("hookd", eps, trk)

	if cfg.Backlog > 0 {
		rcv.hold()
	}
	var prof *profiler
	if cfg.ProfileDir != "" && cfg.PprofURL != "" {
		prof = startCPUProfile(ctx, cfg.PprofURL, cfg.ProfileDir, cfg.ProfileSeconds)
	}
	phaseStart := time.Since(start)
	self0 := procCPUSeconds(os.Getpid())
	var soakDone func()
	if cfg.Soak && dbs != "" {
		size, closeSizer, err := newSizer(ctx, dbs)
		if err != nil {
			return res, err
		}
		defer closeSizer()
		stop, got := make(chan struct{}), make(chan []SizeSample, 1)
		go func() { got <- sampleSizes(ctx, cfg, size, trk, start.Add(phaseStart), stop) }()
		soakDone = func() { close(stop); res.Sizes = <-got }
		res.RetentionS = cfg.Retention.Seconds()
	}
	bodies, err := messageBodies(payload, cfg.OrderingKeys)
	if err != nil {
		return res, err
	}
	ing := &ingest{apis: apis, paths: paths, bodies: bodies, trk: trk, start: start}
	if cfg.IdempotencyKeys {
		ing.keyPrefix = "bench-" + randomHex(8) + "-"
	}
	stopProgress := startProgress(ctx, cfg, ing, trk, pids[0])

	switch {
	case cfg.BacklogBulk:
		t0 := time.Now()
		sent := int64(t0.Sub(start))
		seen := rcv.requests.Load()
		err := writeBacklog(ctx, cfg.Store, dbs, apps, cfg.Backlog, payload, func(ids []string) {
			at := int64(time.Since(start))
			for _, id := range ids {
				trk.accept(id, sent, at)
			}
			if len(ids) > 0 {
				ing.firstID.CompareAndSwap(nil, &ids[0])
			}
		})
		if err != nil {
			stopProgress()
			return res, err
		}
		res.BacklogWriteS = time.Since(t0).Seconds()
		// The server finds rows it did not write itself at its next look for due
		// work; the drain is measured from the release once it has begun sending.
		for t1 := time.Now(); rcv.requests.Load() == seen && time.Since(t1) < time.Minute && ctx.Err() == nil; {
			time.Sleep(5 * time.Millisecond)
		}
		note(cfg, "backlog: %d messages with %d deliveries written in %.1fs", cfg.Backlog, cfg.Backlog*cfg.Fanout, res.BacklogWriteS)
	case cfg.Backlog > 0:
		ing.closedLoop(ctx, cfg.Concurrency, cfg.Backlog, 0)
	case cfg.Rate > 0:
		ing.openLoop(ctx, max(cfg.Concurrency, 64), cfg.Rate, cfg.Messages, cfg.Duration)
	default:
		ing.closedLoop(ctx, cfg.Concurrency, cfg.Messages, cfg.Duration)
	}
	ingestEnd := time.Since(start)
	releaseAt := phaseStart
	if cfg.Backlog > 0 {
		releaseAt = time.Since(start)
		rcv.release()
	}

	want := trk.accepted.Load() * int64(cfg.Fanout)
	waitErr := waitArrivals(ctx, trk, want, alive)
	res.TimedOut = waitErr == context.DeadlineExceeded
	stopProgress()
	if soakDone != nil {
		soakDone()
	}
	if waitErr != nil && !res.TimedOut {
		return res, waitErr
	}
	end := time.Since(start)
	self1 := procCPUSeconds(os.Getpid())

	if prof != nil {
		if err := prof.finish(ctx); err != nil {
			note(cfg, "profile: %v", err)
		} else {
			note(cfg, "profile: wrote %s, %s and %s", filepath.Join(cfg.ProfileDir, "cpu.pprof"),
				filepath.Join(cfg.ProfileDir, "heap.pprof"), filepath.Join(cfg.ProfileDir, "bench-cpu.pprof"))
		}
	}
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		if hwm := procMemMB(pid, "VmHWM"); hwm >= 0 && (res.PeakRSSMB == nil || hwm > *res.PeakRSSMB) {
			res.PeakRSSMB = &hwm
		}
	}
	if cpu1 := serverCPUSeconds(pids); cpu0 >= 0 && cpu1 >= 0 {
		res.ServerCPUS = cpu1 - cpu0
	}
	if id := ing.firstID.Load(); id != nil && cfg.ListRequests > 0 && !res.TimedOut {
		a := apps[0]
		res.MessageAttemptsLatencyMS = listLatency(ctx, api, "/api/v1/app/"+a.id+"/attempt/msg/"+*id, cfg.ListRequests)
		res.EndpointAttemptsLatencyMS = listLatency(ctx, api, "/api/v1/app/"+a.id+"/attempt/endpoint/"+a.endpoints[0], cfg.ListRequests)
	}

	sm := trk.summarize()
	res.Messages = sm.accepted
	res.Deliveries = sm.arrived
	res.ExpectedDeliveries = sm.accepted * int64(cfg.Fanout)
	res.Lost = sm.lost
	res.Unexpected = sm.unexpected
	res.Duplicates = trk.duplicates.Load()
	res.FailedOnPurpose = trk.failed.Load()
	res.InvalidSignatures += rcv.invalid.Load() - invalidBefore
	res.LatencyMS = latencyOf(sm.latencies)
	res.EndToEndLatencyMS = latencyOf(sm.endToEnd)
	res.APIErrors = ing.errors.Load()
	if e := ing.firstErr.Load(); e != nil {
		res.FirstAPIError = *e
	}
	res.IngestLatencyMS = latencyOf(ing.latencies())
	res.IngestS = (ingestEnd - phaseStart).Seconds()
	res.DurationS = (end - phaseStart).Seconds()
	if res.IngestS > 0 {
		res.IngestPerS = float64(res.Messages) / res.IngestS
	}
	last := time.Duration(trk.lastArrive.Load())
	if span := (last - releaseAt).Seconds(); span > 0 && res.Deliveries > 0 {
		res.DeliveriesPerS = float64(res.Deliveries) / span
		if cfg.Backlog > 0 {
			res.DrainS = span
		}
	}
	if res.CeilingPerS > 0 {
		res.Ratio = res.DeliveriesPerS / res.CeilingPerS
	}
	if res.Deliveries > 0 {
		if self0 >= 0 && self1 >= 0 {
			res.BenchCPUPerDeliveryMS = (self1 - self0) * 1000 / float64(res.Deliveries)
		}
		if res.ServerCPUS >= 0 {
			res.ServerCPUPerDeliveryMS = res.ServerCPUS * 1000 / float64(res.Deliveries)
		}
	}
	if res.RelayCeilingPerS > 0 {
		res.RelayRatio = res.DeliveriesPerS / res.RelayCeilingPerS
	}
	return res, nil
}

// child is a started server with its admin token.
type child struct {
	*serverProcess
	token string
	dir   string
	db    string
}

func (c *child) stop() {
	c.serverProcess.stop()
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// serverCPUSeconds returns the CPU time the processes pids have used, or -1 when
// one of them is unknown.
func serverCPUSeconds(pids []int) float64 {
	sum := 0.0
	for _, pid := range pids {
		if pid <= 0 {
			return -1
		}
		s := procCPUSeconds(pid)
		if s < 0 {
			return -1
		}
		sum += s
	}
	return sum
}

// benchEncryptionKey encrypts the secrets of the servers bench starts on PostgreSQL,
// unless HOOKD_ENCRYPTION_KEY is set. Bench databases hold only throw-away secrets.
const benchEncryptionKey = "aG9va2QtYmVuY2gtZW5jcnlwdGlvbi1rZXktMDEyMzQ="

// startChild starts cfg.ServerCommand on a free loopback port with the admin token
// token. With ProfileDir and profile it also gives the server a pprof address and
// sets cfg.PprofURL.
func startChild(ctx context.Context, cfg *Config, token string, profile bool) (*child, error) {
	c := &child{token: token}
	db := cfg.DB
	if db == "" {
		dir, err := os.MkdirTemp("", "hookd-bench-")
		if err != nil {
			return nil, fmt.Errorf("temporary database directory: %w", err)
		}
		c.dir = dir
		db = filepath.Join(dir, "bench.db")
	}
	c.db = db
	argv := append([]string{}, cfg.ServerCommand...)
	argv = append(argv, "--addr", "127.0.0.1:0", "--db", db, "--allow-private")
	if cfg.Backlog > 0 {
		// Held requests must outlast the ingest phase, or they time out and wait
		// for a retry, which would be measured as drain time.
		argv = append(argv, "--request-timeout", cfg.Timeout.String())
	}
	if cfg.ProfileDir != "" && profile {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		argv = append(argv, "--pprof-addr", addr)
		cfg.PprofURL = "http://" + addr
	}
	if cfg.Soak {
		argv = append(argv, soakArgs(*cfg)...)
	}
	argv = append(argv, cfg.ServerArgs...)
	env := []string{"HOOKD_ADMIN_TOKEN=" + c.token}
	if os.Getenv("HOOKD_ENCRYPTION_KEY") == "" && cfg.Store == "postgres" {
		// The nodes of a run, and the runs on one database, share this key.
		env = append(env, "HOOKD_ENCRYPTION_KEY="+benchEncryptionKey)
	}
	p, err := startServer(ctx, argv, env, cfg.ServerLog, 60*time.Second)
	if err != nil {
		if c.dir != "" {
			_ = os.RemoveAll(c.dir)
		}
		return nil, err
	}
	c.serverProcess = p
	return c, nil
}

// setup creates the event type, the applications and their endpoints, and returns
// the receiver's view of the endpoints and the applications.
func setup(ctx context.Context, api *apiClient, rcv *receiver, profile webhook.Profile, cfg Config) ([]receiverEndpoint, []benchApp, error) {
	if err := api.createEventType(ctx, EventType); err != nil {
		return nil, nil, fmt.Errorf("setup: %w", err)
	}
	run := randomHex(4)
	eps := make([]receiverEndpoint, 0, cfg.Apps*cfg.Fanout)
	apps := make([]benchApp, 0, cfg.Apps)
	for a := range cfg.Apps {
		appID, err := api.createApp(ctx, fmt.Sprintf("bench %s #%d", run, a))
		if err != nil {
			return nil, nil, fmt.Errorf("setup: %w", err)
		}
		ba := benchApp{id: appID}
		for k := range cfg.Fanout {
			secret, err := webhook.NewSecret()
			if err != nil {
				return nil, nil, err
			}
			url := rcv.endpointURL("hookd", len(eps))
			epID, key, err := api.createEndpoint(ctx, appID, url, secret, cfg.FIFO)
			if err != nil {
				return nil, nil, fmt.Errorf("setup: %w", err)
			}
			ba.endpoints, ba.urls = append(ba.endpoints, epID), append(ba.urls, url)
			v, err := webhook.NewVerifier(profile, []string{key})
			if err != nil {
				return nil, nil, fmt.Errorf("setup: endpoint secret: %w", err)
			}
			eps = append(eps, receiverEndpoint{verifier: v, slot: k})
		}
		apps = append(apps, ba)
	}
	return eps, apps, nil
}

// relayDir is where the relay's log and the floor's database go: beside a given
// SQLite database (on the filesystem it is on), else in the temporary directory,
// as the started server's default database.
func relayDir(cfg Config) string {
	if cfg.Store == "sqlite" && cfg.DB != "" {
		return filepath.Dir(cfg.DB)
	}
	return ""
}

// floorDSN is the PostgreSQL floor's database (pgfloor.go): with --store postgres,
// hookd's; "" (the SQLite floor) otherwise.
func floorDSN(cfg Config) string {
	if cfg.Store == "postgres" {
		return cfg.DB
	}
	return ""
}

// waitArrivals waits until want deliveries have arrived. It returns ctx's error if
// ctx ends first, and alive's if the server is gone.
func waitArrivals(ctx context.Context, trk *tracker, want int64, alive func() error) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for trk.arrived.Load() < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := alive(); err != nil {
				return err
			}
		}
	}
	return nil
}

// note prints a line about the run's progress to cfg.Progress.
func note(cfg Config, format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, format+"\n", args...)
	}
}

// messageBodies returns the MessageIn bodies the run sends in turn: one, or one per
// ordering key ("k0", "k1", …).
func messageBodies(payload []byte, keys int) ([][]byte, error) {
	if keys <= 0 {
		b, err := json.Marshal(map[string]any{"eventType": EventType, "payload": json.RawMessage(payload)})
		return [][]byte{b}, err
	}
	out := make([][]byte, keys)
	for k := range out {
		b, err := json.Marshal(map[string]any{"eventType": EventType, "payload": json.RawMessage(payload),
			"orderingKey": fmt.Sprintf("k%d", k)})
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// makePayload returns a JSON object of exactly n bytes (n >= 16).
func makePayload(n int) []byte {
	const head, tail = `{"data":"`, `"}`
	b := make([]byte, 0, n)
	b = append(b, head...)
	for len(b) < n-len(tail) {
		b = append(b, 'a'+byte(len(b)%26))
	}
	return append(b, tail...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ingest sends messages through the API and records their acceptance.
type ingest struct {
	apis   []*apiClient // one per node, used in turn
	paths  []string
	bodies [][]byte // message i is bodies[i%len(bodies)]
	trk    *tracker
	start  time.Time
	// keyPrefix, when set, makes message i's Idempotency-Key keyPrefix+i.
	keyPrefix string

	sent     atomic.Int64
	errors   atomic.Int64
	firstErr atomic.Pointer[string]
	firstID  atomic.Pointer[string] // of a message accepted

	mu  sync.Mutex
	lat [][]time.Duration // one slice per worker, merged at the end
}

// send posts message number i and records the outcome; lat collects round trips.
func (g *ingest) send(ctx context.Context, i int, lat *[]time.Duration) {
	g.sent.Add(1)
	key := ""
	if g.keyPrefix != "" {
		key = g.keyPrefix + strconv.Itoa(i)
	}
	t0 := time.Now()
	id, err := g.apis[i%len(g.apis)].sendMessage(ctx, g.paths[i%len(g.paths)], g.bodies[i%len(g.bodies)], key)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		g.errors.Add(1)
		s := err.Error()
		g.firstErr.CompareAndSwap(nil, &s)
		return
	}
	at := time.Since(g.start)
	g.trk.accept(id, int64(t0.Sub(g.start)), int64(at))
	g.firstID.CompareAndSwap(nil, &id)
	*lat = append(*lat, time.Since(t0))
}

func (g *ingest) keep(lat []time.Duration) {
	g.mu.Lock()
	g.lat = append(g.lat, lat)
	g.mu.Unlock()
}

func (g *ingest) latencies() []time.Duration {
	var all []time.Duration
	for _, l := range g.lat {
		all = append(all, l...)
	}
	return all
}

// closedLoop sends n messages (or for d, when n is 0) with conc clients, each
// sending its next message as soon as the previous one was accepted.
func (g *ingest) closedLoop(ctx context.Context, conc, n int, d time.Duration) {
	var deadline time.Time
	if n <= 0 {
		deadline = time.Now().Add(d)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			var lat []time.Duration
			defer func() { g.keep(lat) }()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if n > 0 && i >= n || n <= 0 && time.Now().After(deadline) {
					return
				}
				g.send(ctx, i, &lat)
			}
		})
	}
	wg.Wait()
}

// openLoop sends at rate messages/s whatever the answers' latency, n messages (or
// for d, when n is 0), with up to conc requests in flight.
func (g *ingest) openLoop(ctx context.Context, conc int, rate float64, n int, d time.Duration) {
	jobs := make(chan int, 4096)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			var lat []time.Duration
			defer func() { g.keep(lat) }()
			for i := range jobs {
				g.send(ctx, i, &lat)
			}
		})
	}
	begin := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ctx.Err() == nil; i++ {
		due := begin.Add(time.Duration(i) * interval)
		if n > 0 && i >= n || n <= 0 && due.Sub(begin) >= d {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
}

// listLatency GETs path n times, one after another, and returns the round trips of
// those answered 2xx.
func listLatency(ctx context.Context, api *apiClient, path string, n int) Latency {
	lat := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := api.do(ctx, "GET", path, nil, nil); err != nil {
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	return latencyOf(lat)
}

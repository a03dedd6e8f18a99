package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/bench"
)

func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	var (
		asJSON    bool
		serverLog string
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure end-to-end delivery throughput and latency against the raw ceiling",
		Long: `bench measures hookd end to end on loopback: API ingest, fan-out, signing and
HTTP delivery to a local receiver that verifies every signature and records when each
delivery arrived.

It first measures the ceiling: a bare Go HTTP client POSTing signed bodies of the same
size to the same receiver with the same concurrency (--ceiling-concurrency), for as
many requests as the hookd phase will deliver (at most --ceiling-duration). Then it
starts this binary's "serve" on a free port with a temporary SQLite database (or
targets --url), creates --apps applications with --fanout endpoints each, sends
--messages messages (or for --duration) with --concurrency clients, or open-loop at
--rate messages/s, and waits until every delivery has arrived or --timeout passed.

Latency is from the API's 2xx answer to the verified receipt, on one clock.
deliveries_per_s is deliveries over the time from the first message sent to the last
delivery received; ratio is deliveries_per_s / ceiling_per_s. peak_rss_mb is the
server's VmHWM (a started server, or --pid).

Between the two it measures a durable relay (at most --relay-duration): a small
server in the bench that appends each POST to a file with group-committed fsync,
forwards it with a bare client to the same receiver (to each of --fanout endpoints)
and only then answers, driven by the same clients with the same bodies.
relay_ceiling_per_s is its deliveries/s and relay_ratio = deliveries_per_s /
relay_ceiling_per_s: the share of what any durable sender could do here that hookd
reaches. Every message POST carries a unique Idempotency-Key, as the Svix SDKs send
(--idempotency-keys=false sends none).

--floor-duration D (off by default) then measures the floor for at most D: the
relay with its file replaced by the least work a sender with hookd's guarantees
must do, so its rate bounds what any hookd design on SQLite can reach here. It
includes, per message, through modernc.org/sqlite with hookd's settings (WAL,
synchronous=FULL, one writer, group commit of up to 256 calls): the least check of
the body (a JSON object with an eventType and a payload object); one row (a
counter as ID, the Idempotency-Key, the body) with the key in a unique index,
committed before the message is answered 202; after the answer, as hookd delivers
after it answers, a signed forward to each --fanout endpoint by --concurrency
goroutines; and one attempt row per forward (message, endpoint, attempt number,
status, duration, time) clustered by message and indexed by endpoint, as the
API's two attempt lists need, committed by a later group commit, the phase ending
when the last is durable. It leaves out everything else hookd does:
authentication, further validation, application and endpoint lookup and
matching, message IDs, keys scoped to an application with their stored answers
(a repeated key gets 409), delivery rows (status, due time, lease), retries,
circuits, the other secondary indexes (messages by application, event type and
eventId; attempts by status), per-minute counters, response bodies, foreign keys,
secure delete and per-call savepoints; its rows go in as one multi-row INSERT per
table per commit. floor_per_s is its deliveries/s, floor_ratio = floor_per_s /
relay_ceiling_per_s (the most relay_ratio a SQLite sender reaches) and
floor_ceiling_ratio = floor_per_s / ceiling_per_s (the most ratio can).

With --store postgres the floor keeps the same rows in PostgreSQL instead, on the
server and database of --db, in a schema of its own that it creates and drops, on
connections with the DSN's session settings as hookd's (synchronous_commit
included): the message row (a counter as ID, the application, the key, the body)
with (application, Idempotency-Key) in a unique index, committed before the 202 (a
repeated key is skipped by ON CONFLICT DO NOTHING and gets 409); the attempt rows
indexed by message and by endpoint, committed later. Two writers, as hookd's
ingest has, each commit what is queued (up to 256 rows) in one round trip and one
implicit transaction: one INSERT from arrays for the messages and one for the
attempts, prepared once per connection. Besides the scoping of keys, it leaves out
what the SQLite floor leaves out (the keys' stored answers among them), and also
NOTIFY, partitions of the attempt log and hookd's planning of each execution
(plan_cache_mode); floor_ratio is then the most relay_ratio a PostgreSQL sender
reaches. floor_cpu_per_delivery_ms is this process's CPU only, not the database's.

Each phase's CPU per delivery is reported too (server_cpu_per_delivery_ms for
hookd; bench_, ceiling_, relay_ and floor_cpu_per_delivery_ms for this process,
which runs the clients, the receiver and the relay or floor): load moves it far
less than the rates, and with the cores saturated a phase's rate is about cores ÷
its CPU per delivery.

--backlog N accepts N messages while the receiver holds every request without
answering (a receiver that has stopped responding; the started server gets
--request-timeout equal to --timeout so held requests do not fail), then releases it:
deliveries_per_s is then the drain rate, from the release to the last delivery.
With --backlog-bulk the backlog's messages and their pending deliveries are written
into the server's database with bulk SQL instead (as --preload writes its history),
while the receiver holds: the server claims, signs and sends them as any due
delivery and the receiver verifies each, so only the building of a large backlog is
quicker (backlog_write_s); the receiver checks signatures on arrival, so a request
held longer than their timestamp tolerance still counts.

--nodes N (with --store postgres) starts N servers on the one database and sends
the messages to them in turn: each node ingests, claims and delivers, and they share
the work through the database. peak_rss_mb is then the largest node's and
server_cpu_s the nodes' sum.

--failing-ratio R answers 503 to that share of first attempts (chosen by a hash of the
message and endpoint), so retries are exercised; duplicates are then expected. The
server's first retry comes after its retry schedule's first delay (5 s by default;
shorten it with --server-arg=--retry-schedule=…).

With --rate the throughput is the offered rate, so ratio says little: such runs are
for latency.

A progress line goes to stderr every second. --json prints exactly one JSON object
to stdout. Exit status: 0 when nothing was lost, every signature verified, no message
was rejected and (without --failing-ratio) nothing arrived twice; 1 otherwise; 2 for a
usage error; 3 when the run could not be carried out.`,
		Example: `  hookd bench --messages 100000 --concurrency 64
  hookd bench --messages 10000 --fanout 10 --json
  hookd bench --messages 50000 --floor-duration 10s --json
  hookd bench --rate 1000 --duration 30s
  hookd bench --backlog 200000
  hookd bench --store postgres --db postgres://postgres@127.0.0.1:5432/bench
  hookd bench --store postgres --db postgres://postgres@127.0.0.1:5432/bench --nodes 3
  hookd bench --url http://127.0.0.1:8071 --token $HOOKD_ADMIN_TOKEN --pid 1234
  hookd bench --server-arg=--workers=512 --messages 50000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("duration") && !cmd.Flags().Changed("messages") {
				cfg.Messages = 0
			}
			if cfg.URL == "" {
				exe, err := os.Executable()
				if err != nil {
					return withCode(exitError, fmt.Errorf("find own executable: %w", err))
				}
				cfg.ServerCommand = []string{exe, "serve"}
				if cfg.Store == "postgres" && cfg.DB == "" {
					return withCode(exitUsage, errors.New("--store postgres needs --db postgres://…"))
				}
			}
			if err := cfg.Validate(); err != nil {
				return withCode(exitUsage, err)
			}
			if serverLog != "" {
				f, err := os.Create(serverLog)
				if err != nil {
					return withCode(exitError, err)
				}
				defer f.Close()
				cfg.ServerLog = f
			}
			if !quiet {
				cfg.Progress = cmd.ErrOrStderr()
				cfg.ProgressCR = benchIsTerminal(os.Stderr)
			}
			res, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return withCode(exitError, err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return withCode(exitError, err)
				}
			} else {
				printBenchResult(out, res)
			}
			if p := res.Problems(); len(p) > 0 {
				return withCode(exitFailure, fmt.Errorf("bench: %s", strings.Join(p, "; ")))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", "", "target a running hookd server at this base URL instead of starting one")
	f.StringVar(&cfg.Token, "token", "", "admin bearer token of the --url server")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "hookd serve processes to start on the one --store postgres database; messages go to them in turn")
	f.IntVar(&cfg.PID, "pid", 0, "process ID of the --url server, to report its peak RSS")
	f.StringVar(&cfg.Store, "store", cfg.Store, "store of the started server: sqlite or postgres")
	f.StringVar(&cfg.DB, "db", "", "database of the started server (default: a temporary SQLite file; a postgres:// DSN with --store postgres)")
	f.StringArrayVar(&cfg.ServerArgs, "server-arg", nil, "extra argument for the started server (repeatable, e.g. --server-arg=--workers=512)")
	f.StringVar(&serverLog, "server-log", "", "write the started server's output to this file")
	f.IntVar(&cfg.Messages, "messages", cfg.Messages, "number of messages to send")
	f.DurationVar(&cfg.Duration, "duration", 0, "send for this long instead of a number of messages")
	f.Float64Var(&cfg.Rate, "rate", 0, "send open-loop at this many messages per second (0: as fast as --concurrency allows)")
	f.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "concurrent API clients (and ceiling clients)")
	f.IntVar(&cfg.PayloadBytes, "payload-size", cfg.PayloadBytes, "JSON payload size in bytes")
	f.IntVar(&cfg.Fanout, "fanout", cfg.Fanout, "endpoints per message")
	f.IntVar(&cfg.Apps, "apps", cfg.Apps, "applications to spread messages over")
	f.BoolVar(&cfg.FIFO, "fifo", false, "make the endpoints ordered (fifo: true)")
	f.IntVar(&cfg.OrderingKeys, "ordering-keys", 0, "spread the messages over this many ordering keys in turn (0: no key)")
	f.Float64Var(&cfg.FailingRatio, "failing-ratio", 0, "share (0-1) of first delivery attempts the receiver answers with 503")
	f.IntVar(&cfg.Backlog, "backlog", 0, "accept this many messages while the receiver is unresponsive, then release it and measure the drain")
	f.BoolVar(&cfg.BacklogBulk, "backlog-bulk", false, "with --backlog: write the backlog's messages and pending deliveries into the store with bulk SQL instead of sending them through the API")
	f.IntVar(&cfg.Preload, "preload", 0, "before the run, write this many attempts (with their messages and deliveries) into the store with bulk SQL, to measure a full store")
	f.IntVar(&cfg.ListRequests, "list-requests", cfg.ListRequests, "after the run, read a message's and an endpoint's attempt list this many times each, for API latency (0 skips it)")
	f.StringVar(&cfg.Profile, "profile", "", "signature profile the server signs with (default standard)")
	f.IntVar(&cfg.CeilingConcurrency, "ceiling-concurrency", 0, "concurrent clients of the ceiling measurement (default --concurrency)")
	f.DurationVar(&cfg.CeilingDuration, "ceiling-duration", cfg.CeilingDuration, "longest ceiling measurement (0 skips it)")
	f.DurationVar(&cfg.RelayDuration, "relay-duration", cfg.RelayDuration, "longest durable-relay measurement (0 skips it)")
	f.DurationVar(&cfg.FloorDuration, "floor-duration", 0, "longest floor measurement: the relay keeping messages and attempts in SQLite, or PostgreSQL with --store postgres (0 skips it)")
	f.BoolVar(&cfg.IdempotencyKeys, "idempotency-keys", cfg.IdempotencyKeys, "send an Idempotency-Key with every message, as the Svix SDKs do (--idempotency-keys=false: none)")
	f.StringVar(&cfg.ProfileDir, "profile-dir", "", "fetch cpu.pprof and heap.pprof of the server's run into this directory, and write bench-cpu.pprof of this process (receiver and API clients) beside them (the started server gets --pprof-addr)")
	f.IntVar(&cfg.ProfileSeconds, "profile-seconds", 10, "length of the CPU profile, from the start of sending")
	f.StringVar(&cfg.PprofURL, "pprof-url", "", "base URL of the --url server's /debug/pprof handlers, for --profile-dir")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on the whole run; deliveries missing then count as lost")
	f.BoolVar(&cfg.Soak, "soak", false, "long run: sample the store's size (SQLite file and WAL, or PostgreSQL's table sizes) and the rates every --sample-interval and print the curve")
	f.DurationVar(&cfg.Retention, "retention", 0, "with --soak: the started server's --retention (its --metadata-retention is twice it), so purging runs during the soak")
	f.DurationVar(&cfg.SampleInterval, "sample-interval", 30*time.Second, "with --soak: time between two size samples")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress line")
	return cmd
}

func printBenchResult(w io.Writer, r bench.Result) {
	rss := "unknown"
	if r.PeakRSSMB != nil {
		rss = fmt.Sprintf("%.1f MB", *r.PeakRSSMB)
	}
	lat := func(l bench.Latency) string {
		return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms", l.P50, l.P90, l.P99, l.Max)
	}
	keys := "idempotency keys"
	if !r.IdempotencyKeys {
		keys = "no idempotency keys"
	}
	fmt.Fprintf(w, "store %s, %d node(s), fan-out %d, %d app(s), concurrency %d, payload %d B, %s, %d CPUs\n",
		r.Store, r.Nodes, r.Fanout, r.Apps, r.Concurrency, r.PayloadBytes, keys, r.CPUs)
	if r.FIFO {
		fmt.Fprintf(w, "ordered       FIFO endpoints, %d ordering key(s) (0: messages without a key)\n", r.OrderingKeys)
	}
	fmt.Fprintf(w, "messages      %d accepted (%.0f/s, POST round trip %s), %d rejected\n",
		r.Messages, r.IngestPerS, lat(r.IngestLatencyMS), r.APIErrors)
	fmt.Fprintf(w, "deliveries    %d of %d  %.0f/s", r.Deliveries, r.ExpectedDeliveries, r.DeliveriesPerS)
	if r.Backlog > 0 {
		fmt.Fprintf(w, " (drain of %d messages in %.1fs)", r.Backlog, r.DrainS)
		if r.BacklogBulk {
			fmt.Fprintf(w, " (backlog written with bulk SQL in %.1fs)", r.BacklogWriteS)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "ceiling       %.0f/s (%d requests, %s)\n", r.CeilingPerS, r.CeilingDeliveries, lat(r.CeilingLatencyMS))
	fmt.Fprintf(w, "relay         %.0f/s (%d deliveries, %d fsyncs, POST round trip %s)\n", r.RelayCeilingPerS, r.RelayDeliveries, r.RelayCommits, lat(r.RelayLatencyMS))
	if r.FloorPerS > 0 {
		fmt.Fprintf(w, "floor         %.0f/s (%d deliveries, %d commits, POST round trip %s)\n", r.FloorPerS, r.FloorDeliveries, r.FloorCommits, lat(r.FloorLatencyMS))
	}
	fmt.Fprintf(w, "ratio         %.3f (relay_ratio %.3f)\n", r.Ratio, r.RelayRatio)
	if r.FloorPerS > 0 {
		store := "SQLite"
		if r.Store == "postgres" {
			store = "PostgreSQL"
		}
		fmt.Fprintf(w, "floor ratio   %.3f of the relay, %.3f of the ceiling (the most relay_ratio and ratio a %s sender reaches)\n", r.FloorRatio, r.FloorCeilingRatio, store)
	}
	fmt.Fprintf(w, "latency       %s (accept → receipt)\n", lat(r.LatencyMS))
	fmt.Fprintf(w, "end to end    %s (request sent → receipt)\n", lat(r.EndToEndLatencyMS))
	fmt.Fprintf(w, "attempt lists message %s; endpoint %s\n", lat(r.MessageAttemptsLatencyMS), lat(r.EndpointAttemptsLatencyMS))
	if r.Preload > 0 {
		fmt.Fprintf(w, "preload       %d attempts in %.1fs\n", r.Preload, r.PreloadS)
	}
	fmt.Fprintf(w, "server        peak RSS %s, CPU %.1f s\n", rss, r.ServerCPUS)
	fmt.Fprintf(w, "lost %d  duplicates %d  invalid signatures %d  failed on purpose %d",
		r.Lost, r.Duplicates, r.InvalidSignatures, r.FailedOnPurpose)
	if r.TimedOut {
		fmt.Fprint(w, "  (timed out)")
	}
	fmt.Fprintln(w)
	if len(r.Sizes) > 0 {
		fmt.Fprintf(w, "soak (retention %s)\n  elapsed    accepted   delivered   msg/s   dlv/s   store MB\n", time.Duration(r.RetentionS*float64(time.Second)))
		for _, s := range r.Sizes {
			fmt.Fprintf(w, "  %6.0fs  %10d  %10d  %6.0f  %6.0f  %9.1f%s\n", s.ElapsedS, s.Accepted, s.Delivered, s.IngestPerS, s.DeliverPerS, s.StoreMB,
				bench.TableSizes(s.Tables))
		}
	}
}

// benchIsTerminal reports whether f is a character device (a terminal).
func benchIsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

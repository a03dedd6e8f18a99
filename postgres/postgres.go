// Package postgres implements hookd's store on PostgreSQL with pgx.
//
// Any number of hookd nodes may share one database. They claim due deliveries with
// FOR UPDATE SKIP LOCKED and a lease (the delivery's next_attempt is the lease's
// expiry, so the deliveries of a node that dies become due again by themselves), and
// every transaction that commits new due work sends a NOTIFY on its schema's channel,
// which a dedicated LISTEN connection in every node turns into a Wake signal. The dispatcher
// still polls NextDue slowly, which covers notifications lost while a listener
// reconnects.
//
// The schema is embedded (migrations/*.sql) and applied by Open, or by `hookd migrate`.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd"
)

// Options tunes a Store.
type Options struct {
	// MaxConns and MinConns size the connection pool; 0 keeps pgxpool's defaults.
	MaxConns int32
	MinConns int32
	// Schema, if set, is the search_path of every connection; it is created if
	// missing. It lets several installations (or tests) share one database. Without
	// it, a DSN parameter search_path=name that names a single schema has the same
	// effect.
	Schema string
	// PartitionWidth is the time each partition of the attempt log covers; zero
	// means DefaultPartitionWidth. Partitions already made keep their width.
	PartitionWidth time.Duration
}

// Store is hookd's store on PostgreSQL. It is safe for concurrent use, also by several
// processes sharing the database.
type Store struct {
	pool    *pgxpool.Pool
	schema  string
	channel string // LISTEN/NOTIFY channel announcing new due work (channelFor)

	wake     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	closeOne sync.Once

	// creates queues CreateMessage calls for the ingest workers (ingest.go);
	// closeMu and closed keep calls from being queued after Close closed it.
	creates  chan *createOp
	ingestWG sync.WaitGroup
	closeMu  sync.RWMutex
	closed   bool

	partitionWidth time.Duration
}

var _ hookd.Store = (*Store)(nil)

// channelFor returns the LISTEN/NOTIFY channel that announces new due work to the
// nodes of the installation in schema. Notifications reach every session of the
// database whatever its search_path, so each schema has a channel of its own and
// installations sharing a database do not wake each other.
func channelFor(schema string) string {
	if schema == "" {
		return "hookd_work"
	}
	sum := sha256.Sum256([]byte(schema))
	return "hookd_work_" + hex.EncodeToString(sum[:8])
}

// Open connects to the database named by dsn (a postgres:// URL or key=value
// string), applies pending migrations and starts listening for work announcements.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, hookd.Errorf(hookd.EINVALID, "invalid PostgreSQL DSN: %v", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if cfg.MinConns > cfg.MaxConns {
		cfg.MinConns = cfg.MaxConns
	}
	schema := opts.Schema
	if schema != "" {
		// Quoted, so that the name is used as given, like CREATE SCHEMA below.
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	} else if sp := strings.TrimSpace(cfg.ConnConfig.RuntimeParams["search_path"]); sp != "" && !strings.ContainsAny(sp, ",\"$ ") {
		// A DSN's ?search_path=name names the schema too, so that a bare URL can
		// select a fresh schema for one installation. PostgreSQL folds the unquoted
		// name to lower case.
		schema = strings.ToLower(sp)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		// The queue tables start empty and grow fast: a generic plan cached while they
		// were small would keep sequential scans forever. Planning each execution
		// costs little for these short statements.
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		registerUTC(c)
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{pool: pool, schema: schema, channel: channelFor(schema), wake: make(chan struct{}, 1), done: make(chan struct{}),
		creates: make(chan *createOp, maxIngestBatch), partitionWidth: opts.PartitionWidth}
	if schema != "" {
		if err := s.createSchema(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	// The attempt log's partitions for the days ahead; the retention loop keeps
	// making them (a zero before drops none).
	if err := s.ReclaimSpace(ctx, time.Time{}, time.Now()); err != nil {
		pool.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.listen(lctx, cfg.ConnConfig.Copy())
	s.ingestWG.Add(ingestWorkers)
	for range ingestWorkers {
		go s.ingest()
	}
	return s, nil
}

// registerUTC makes timestamptz values scan as UTC times whatever the process's
// time zone, so API output does not depend on the host.
func registerUTC(c *pgx.Conn) {
	c.TypeMap().RegisterType(&pgtype.Type{
		Name:  "timestamptz",
		OID:   pgtype.TimestamptzOID,
		Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
	})
}

// createSchema creates the configured schema; nodes starting at once may race to
// create it, which is fine.
func (s *Store) createSchema(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize())
	if err != nil && !isCode(err, "23505", "42P06") {
		return fmt.Errorf("create schema %s: %w", s.schema, err)
	}
	return nil
}

// Pool returns the store's connection pool, for tests and tools that need plain SQL.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return &hookd.Error{Code: hookd.EUNAVAILABLE, Message: "database unreachable", Err: err}
	}
	return nil
}

// Close finishes the queued CreateMessage calls, stops the listener and closes the
// pool.
func (s *Store) Close() error {
	s.closeOne.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.creates)
		s.closeMu.Unlock()
		s.ingestWG.Wait()
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
		s.pool.Close()
	})
	return nil
}

// isCode reports whether err is a PostgreSQL error with one of the given SQLSTATE
// codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// Constraint violation codes.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeDiskFull            = "53100"
)

// storeErr turns a driver error into a hookd error: unique violations become
// ECONFLICT with msg, a missing row ENOTFOUND; anything else is wrapped with what.
func storeErr(err error, what, conflictMsg string) error {
	switch {
	case err == nil:
		return nil
	case isCode(err, codeUniqueViolation):
		return &hookd.Error{Code: hookd.ECONFLICT, Message: conflictMsg, Err: err}
	case errors.Is(err, pgx.ErrNoRows):
		return &hookd.Error{Code: hookd.ENOTFOUND, Message: what + " not found"}
	case isCode(err, codeDiskFull):
		return &hookd.Error{Code: hookd.ESTORAGEFULL, Message: "the database's disk is full: nothing can be written until space is freed", Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nullString maps "" to NULL, for optional unique keys.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// notify announces new due work to every node in the transaction tx (PostgreSQL
// delivers it on commit).
func (s *Store) notify(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", s.channel); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// queueHotPlans queues, first in a batch of the delivery path (ingest, recording
// attempts), a switch of plan_cache_mode to auto for the batch's implicit
// transaction. The connections force custom plans (Open), which the queries that
// pick an index by the data need, but which on the delivery path plans every
// execution of its few fixed statements anew, and every foreign key check and trigger
// statement row by row: a third of the database's CPU per delivery. Their statements
// insert from arrays and reach other rows through primary keys, so PostgreSQL's
// default (custom plans for the first five executions, then the generic plan unless
// it costs more) plans them once per connection. The setting is local: it ends with
// the transaction.
func queueHotPlans(b *pgx.Batch) {
	b.Queue(`SELECT set_config('plan_cache_mode', 'auto', true)`)
}

// queueLookupPlans queues, first in a batch that records attempts (and after an
// ingest batch's insert, before the statements that look up what it skipped), what
// makes the following statements' plans keyed lookups whatever the tables' sizes:
// one generic plan per connection (plan_cache_mode force_generic_plan) and nested
// loops only (hash and merge joins off), until queueSetPlans. Those statements reach
// existing rows by key from arrays of a batch (deliveries by (msg_id, endpoint_id),
// endpoints by ID, answers, messages and EventIDs by key). A generic plan made while
// a new partition was small (and without statistics, as without autovacuum) joined
// the batch to a sequential scan of the partition and kept that plan as the
// partition grew: every batch of results read every delivery of the partition. The
// settings are local: they end with the transaction.
func queueLookupPlans(b *pgx.Batch) {
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true), ` + nestedLoopsOnly)
}

// nestedLoopsOnly is the select list that turns hash and merge joins off for the rest
// of the transaction, for statements that reach a batch's rows by key.
const nestedLoopsOnly = `set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`

// queueSetPlans queues, after queueLookupPlans' statements, the switch back to hash
// and merge joins, for the statements that join the batch's own rows with each
// other (the attempts inserted with their counts): nested loops over those are
// quadratic in the batch.
func queueSetPlans(b *pgx.Batch) {
	b.Queue(`SELECT set_config('enable_hashjoin', 'on', true), set_config('enable_mergejoin', 'on', true)`)
}

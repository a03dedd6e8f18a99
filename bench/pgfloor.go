package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// With --store postgres the floor keeps its rows in PostgreSQL instead: the server
// and database of hookd's DSN, in a schema of its own that it creates and drops, on
// connections with the DSN's session settings (synchronous_commit among them, as
// hookd's own connections have them). It is then the least work any
// PostgreSQL-backed sender with hookd's guarantees must do per message:
//
//   - the same check of the body as the SQLite floor's;
//   - one row in a messages table (a bigint primary key, the application, the
//     Idempotency-Key, the body) with (application, key) in a unique index,
//     committed before the message is answered 202; a repeated key is skipped by
//     ON CONFLICT DO NOTHING and gets 409;
//   - the signed forwards after the answer, as the SQLite floor's;
//   - one row per forward in an attempts table (message, endpoint, attempt
//     number, status code, duration, time) with an index by message and one by
//     endpoint, for the API's two attempt lists, committed by a later commit.
//
// Two writers (as hookd's PostgreSQL ingest has, so that one batch's WAL flush
// overlaps the next batch's statements), each with a connection of its own, take
// what is queued, up to 256 rows, and commit it in one round trip and one implicit
// transaction: one INSERT of the messages from arrays (unnest), one of the attempts,
// both prepared once per connection (pgx's statement cache). Besides the scoping of
// keys, it leaves out what the SQLite floor leaves out, including message IDs (a
// counter), the keys' stored answers, delivery rows and their claims, foreign keys
// and the other indexes, and also NOTIFY, partitions of the attempt log and hookd's
// per-execution planning (plan_cache_mode); its statements are fewer and simpler
// than hookd's.

// pgFloorWriters is the number of batches in flight, as in hookd's PostgreSQL ingest.
const pgFloorWriters = 2

// pgFloorStore is the floor's database on PostgreSQL: a relayKeeper.
type pgFloorStore struct {
	floorQueue
	admin   *pgx.Conn // creates and drops the schema
	conns   []*pgx.Conn
	schema  string
	writers sync.WaitGroup

	// syncCommit is the writers' synchronous_commit.
	syncCommit string
}

const pgFloorSchema = `
CREATE TABLE messages (
	id   bigint PRIMARY KEY,
	app  bigint NOT NULL,
	key  text,
	body bytea NOT NULL
);
CREATE UNIQUE INDEX messages_key ON messages (app, key) WHERE key IS NOT NULL;
CREATE TABLE attempts (
	msg_id      bigint NOT NULL,
	endpoint    integer NOT NULL,
	n           smallint NOT NULL,
	status_code smallint NOT NULL,
	duration    integer NOT NULL,
	timestamp   timestamptz NOT NULL
);
CREATE INDEX attempts_msg ON attempts (msg_id);
CREATE INDEX attempts_endpoint ON attempts (endpoint, msg_id);`

// pgFloorMessages inserts the messages given as arrays, skipping those whose key
// their application already used, and returns the IDs of those it inserted.
const pgFloorMessages = `INSERT INTO messages (id, app, key, body)
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bytea[])
	ON CONFLICT (app, key) WHERE key IS NOT NULL DO NOTHING
	RETURNING id`

// pgFloorAttempts inserts first attempts given as arrays.
const pgFloorAttempts = `INSERT INTO attempts (msg_id, endpoint, n, status_code, duration, timestamp)
	SELECT r.msg_id, r.endpoint, 1, r.status_code, r.duration, r.timestamp
	FROM unnest($1::bigint[], $2::integer[], $3::smallint[], $4::integer[], $5::timestamptz[])
		AS r(msg_id, endpoint, status_code, duration, timestamp)`

// pgFloorApp is the application of every floor message (the bench has one).
const pgFloorApp = 1

// openPGFloorStore creates a fresh schema in the database of dsn and the floor's
// tables in it.
func openPGFloorStore(ctx context.Context, dsn string) (*pgFloorStore, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("floor: connect: %w", err)
	}
	s := &pgFloorStore{floorQueue: newFloorQueue(), admin: admin, schema: "hookd_bench_floor_" + randomHex(6)}
	ident := pgx.Identifier{s.schema}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("floor: create schema: %w", err)
	}
	fail := func(err error) (*pgFloorStore, error) {
		s.closeConns()
		return nil, err
	}
	cfg.RuntimeParams["search_path"] = ident
	for range pgFloorWriters {
		c, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err != nil {
			return fail(fmt.Errorf("floor: connect: %w", err))
		}
		s.conns = append(s.conns, c)
	}
	if _, err := s.conns[0].Exec(ctx, pgFloorSchema); err != nil {
		return fail(fmt.Errorf("floor: schema: %w", err))
	}
	if err := s.conns[0].QueryRow(ctx, "SHOW synchronous_commit").Scan(&s.syncCommit); err != nil {
		return fail(fmt.Errorf("floor: synchronous_commit: %w", err))
	}
	for _, c := range s.conns {
		s.writers.Go(func() {
			s.write(func(msgs, atts []*floorOp) error { return s.commit(c, msgs, atts) }, nil)
		})
	}
	return s, nil
}

// commit writes a batch in one round trip and one implicit transaction: its messages
// in one INSERT, its attempts in another.
func (s *pgFloorStore) commit(c *pgx.Conn, msgs, atts []*floorOp) error {
	// Keys in one order in every batch, so that two writers inserting the same
	// keys wait for each other rather than deadlock.
	slices.SortFunc(msgs, func(a, b *floorOp) int { return cmp.Compare(a.key, b.key) })
	b := &pgx.Batch{}
	if len(msgs) > 0 {
		ids, apps, keys, bodies := make([]int64, len(msgs)), make([]int64, len(msgs)), make([]*string, len(msgs)), make([][]byte, len(msgs))
		for i, op := range msgs {
			ids[i], apps[i], bodies[i] = op.seq, pgFloorApp, op.body
			if op.key != "" {
				keys[i] = &op.key
			}
		}
		inserted := make(map[int64]bool, len(msgs))
		b.Queue(pgFloorMessages, ids, apps, keys, bodies).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				inserted[id] = true
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for _, op := range msgs {
				op.fresh = inserted[op.seq]
			}
			return nil
		})
	}
	if len(atts) > 0 {
		ids, eps, codes, took, at := make([]int64, len(atts)), make([]int32, len(atts)), make([]int16, len(atts)),
			make([]int32, len(atts)), make([]time.Time, len(atts))
		for i, op := range atts {
			ids[i], eps[i], codes[i], took[i], at[i] = op.seq, int32(op.slot), int16(op.code), int32(op.took/time.Microsecond), op.at
		}
		b.Queue(pgFloorAttempts, ids, eps, codes, took, at)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		for _, op := range msgs {
			op.fresh = false
		}
		return fmt.Errorf("floor: commit: %w", err)
	}
	return nil
}

// close stops the writers once the queue is empty and drops the schema.
func (s *pgFloorStore) close() {
	close(s.ops)
	s.writers.Wait()
	s.closeConns()
}

func (s *pgFloorStore) closeConns() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range s.conns {
		c.Close(ctx)
	}
	_, _ = s.admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{s.schema}.Sanitize()+" CASCADE")
	s.admin.Close(ctx)
}

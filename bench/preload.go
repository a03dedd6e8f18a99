package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/hookd/hookd"
)

// Preloading fills the store, before the run, with the history of a store that has
// been delivering for a while: Preload attempts over Preload/preloadPerMessage
// messages of the bench's applications, preloadPerMessage attempts each, spread over
// the application's endpoints (an endpoint's last attempt of a message succeeds, the
// earlier ones failed with 503), with one finished delivery per message and endpoint.
// The rows are written with bulk SQL (multi-row INSERTs on SQLite, COPY on
// PostgreSQL) straight into the server's database, not through the API: this is
// about what a full store costs, not about how it got full. Their times lie in the
// day before the run, so their IDs sort before the run's.

// preloadPerMessage is the number of attempts of each preloaded message.
const preloadPerMessage = 10

// preloadSpan is how far back the preloaded history reaches.
const preloadSpan = 24 * time.Hour

// benchApp is an application the bench created, with its endpoints' IDs and URLs.
type benchApp struct {
	id        string
	endpoints []string
	urls      []string
}

// preloadRows generates the preloaded rows in time order and hands them to the
// sinks: msg(id, appID, at), dlv(id, appID, msgID, endpointID, attempts, at) and
// att(id, appID, msgID, endpointID, url, status, code, at).
type preloadSinks struct {
	msg func(id, appID string, at time.Time) error
	dlv func(id, appID, msgID, endpointID string, attempts int, at time.Time) error
	att func(id, appID, msgID, endpointID, url string, status hookd.Status, code int, at time.Time) error
}

func preloadRows(apps []benchApp, n int, now time.Time, sinks preloadSinks) error {
	msgs := (n + preloadPerMessage - 1) / preloadPerMessage
	start := now.Add(-preloadSpan - time.Hour)
	step := preloadSpan / time.Duration(max(msgs, 1))
	var at time.Time
	rng := rand.NewChaCha8([32]byte{byte(now.UnixNano()), byte(now.UnixNano() >> 8), byte(now.UnixNano() >> 16)})
	ids := hookd.IDGen{Now: func() time.Time { return at }, Rand: rng}
	left := n
	for j := range msgs {
		at = start.Add(time.Duration(j) * step)
		a := apps[j%len(apps)]
		msgID := ids.New(hookd.PrefixMessage)
		if err := sinks.msg(msgID, a.id, at); err != nil {
			return err
		}
		k := min(preloadPerMessage, left)
		left -= k
		fan := len(a.endpoints)
		for e := range min(fan, k) {
			// Endpoint e gets attempts e, e+fan, …; the last of them succeeds.
			count := (k - e + fan - 1) / fan
			if err := sinks.dlv(ids.New(hookd.PrefixDelivery), a.id, msgID, a.endpoints[e], count, at); err != nil {
				return err
			}
		}
		for i := range k {
			e := i % fan
			status, code := hookd.StatusFail, 503
			if i+fan >= k {
				status, code = hookd.StatusSuccess, 204
			}
			if err := sinks.att(ids.New(hookd.PrefixAttempt), a.id, msgID, a.endpoints[e], a.urls[e], status, code, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// preload writes n attempts (and their messages and deliveries) into the store at
// db ("sqlite" path or "postgres" DSN).
func preload(ctx context.Context, store, db string, apps []benchApp, n int) error {
	if store == "postgres" {
		return preloadPostgres(ctx, db, apps, n)
	}
	return preloadSQLite(ctx, db, apps, n)
}

// sqliteChunk is how many rows one multi-row INSERT writes, and sqliteTx how many
// one transaction does: short enough that the running server's own writes (its node
// heartbeat) wait little for the lock.
const (
	sqliteChunk = 200
	sqliteTx    = 20000
)

// rowBuffer collects the rows of one table and writes them sqliteChunk at a time.
type rowBuffer struct {
	head string // INSERT INTO t (…) VALUES
	cols int
	args []any
	rows int
	stmt *sql.Stmt // for a full chunk
}

// sqliteBulk writes rows into a SQLite database with multi-row INSERTs, sqliteTx rows
// a transaction. Its tables are written in the order given at open (a table before
// those that refer to it); afterCommit, if set, runs after each commit.
type sqliteBulk struct {
	db          *sql.DB
	tx          *sql.Tx
	inTx        int
	bufs        []*rowBuffer
	afterCommit func()
}

// openSQLiteBulk opens the database at path for bulk writes into tables, each given
// as its INSERT head ("INSERT INTO t (a, b) VALUES ") and number of columns.
func openSQLiteBulk(ctx context.Context, path string, tables ...rowBuffer) (*sqliteBulk, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	b := &sqliteBulk{db: db}
	for _, t := range tables {
		rb := &rowBuffer{head: t.head, cols: t.cols}
		if rb.stmt, err = db.PrepareContext(ctx, rb.head+values(sqliteChunk, rb.cols)); err != nil {
			b.close()
			return nil, err
		}
		b.bufs = append(b.bufs, rb)
	}
	return b, nil
}

func (b *sqliteBulk) flush(ctx context.Context, rb *rowBuffer) error {
	if rb.rows == 0 {
		return nil
	}
	var err error
	if rb.rows == sqliteChunk {
		_, err = b.tx.StmtContext(ctx, rb.stmt).ExecContext(ctx, rb.args...)
	} else {
		_, err = b.tx.ExecContext(ctx, rb.head+values(rb.rows, rb.cols), rb.args...)
	}
	rb.args, rb.rows = rb.args[:0], 0
	return err
}

// add appends a row of table number t.
func (b *sqliteBulk) add(ctx context.Context, t int, args ...any) error {
	if b.tx == nil {
		var err error
		if b.tx, err = b.db.BeginTx(ctx, nil); err != nil {
			return err
		}
	}
	rb := b.bufs[t]
	rb.args = append(rb.args, args...)
	rb.rows++
	b.inTx++
	if rb.rows == sqliteChunk {
		if err := b.flush(ctx, rb); err != nil {
			return err
		}
	}
	if b.inTx >= sqliteTx {
		return b.commit(ctx)
	}
	return nil
}

// commit writes the buffered rows and commits them.
func (b *sqliteBulk) commit(ctx context.Context) error {
	if b.tx == nil {
		return nil
	}
	for _, rb := range b.bufs {
		if err := b.flush(ctx, rb); err != nil {
			return err
		}
	}
	if err := b.tx.Commit(); err != nil {
		b.tx = nil
		return err
	}
	b.tx, b.inTx = nil, 0
	if b.afterCommit != nil {
		b.afterCommit()
	}
	return nil
}

// finish commits what is left and checkpoints the WAL into the database file.
func (b *sqliteBulk) finish(ctx context.Context) error {
	if err := b.commit(ctx); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// close rolls back an unfinished transaction and closes the database.
func (b *sqliteBulk) close() {
	if b.tx != nil {
		_ = b.tx.Rollback()
	}
	for _, rb := range b.bufs {
		_ = rb.stmt.Close()
	}
	_ = b.db.Close()
}

func preloadSQLite(ctx context.Context, path string, apps []benchApp, n int) error {
	b, err := openSQLiteBulk(ctx, path,
		rowBuffer{head: `INSERT INTO messages (id, app_id, event_type, payload, timestamp) VALUES `, cols: 5},
		rowBuffer{head: `INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, created_at, updated_at) VALUES `, cols: 9},
		rowBuffer{head: `INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, response_status_code, timestamp) VALUES `, cols: 8})
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	defer b.close()
	us := func(t time.Time) int64 { return t.UnixMicro() }
	err = preloadRows(apps, n, time.Now(), preloadSinks{
		msg: func(id, appID string, at time.Time) error {
			return b.add(ctx, 0, id, appID, EventType, "{}", us(at))
		},
		dlv: func(id, appID, msgID, endpointID string, attempts int, at time.Time) error {
			return b.add(ctx, 1, id, appID, msgID, endpointID, int(hookd.StatusSuccess), attempts, us(at), us(at), us(at))
		},
		att: func(id, appID, msgID, endpointID, url string, status hookd.Status, code int, at time.Time) error {
			return b.add(ctx, 2, id, appID, msgID, endpointID, url, int(status), code, us(at))
		},
	})
	if err == nil {
		err = b.finish(ctx)
	}
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	return nil
}

// values returns "(?, ?), (?, ?)" for rows rows of cols columns.
func values(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// pgChunk is how many rows of each table one COPY round writes.
const pgChunk = 100000

func preloadPostgres(ctx context.Context, dsn string, apps []benchApp, n int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	defer conn.Close(context.Background())
	var msgs, dlvs, atts [][]any
	flush := func() error {
		for _, t := range []struct {
			table string
			cols  []string
			rows  *[][]any
		}{
			{"messages", []string{"id", "app_id", "event_type", "payload", "timestamp"}, &msgs},
			{"deliveries", []string{"id", "app_id", "msg_id", "endpoint_id", "status", "attempts", "next_attempt", "created_at", "updated_at"}, &dlvs},
			{"attempts", []string{"id", "app_id", "msg_id", "endpoint_id", "url", "status", "response_status_code", "timestamp"}, &atts},
		} {
			if len(*t.rows) == 0 {
				continue
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(*t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
			*t.rows = (*t.rows)[:0]
		}
		return nil
	}
	payload := []byte("{}")
	err = preloadRows(apps, n, time.Now(), preloadSinks{
		msg: func(id, appID string, at time.Time) error {
			msgs = append(msgs, []any{id, appID, EventType, payload, at})
			return nil
		},
		dlv: func(id, appID, msgID, endpointID string, attempts int, at time.Time) error {
			dlvs = append(dlvs, []any{id, appID, msgID, endpointID, int16(hookd.StatusSuccess), int32(attempts), at, at, at})
			return nil
		},
		att: func(id, appID, msgID, endpointID, url string, status hookd.Status, code int, at time.Time) error {
			atts = append(atts, []any{id, appID, msgID, endpointID, url, int16(status), int32(code), at})
			if len(atts) >= pgChunk {
				return flush()
			}
			return nil
		},
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		_, err = conn.Exec(ctx, `ANALYZE messages; ANALYZE deliveries; ANALYZE attempts`)
	}
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	return nil
}

// Package sqlite implements hookd.Store on an embedded SQLite database (the pure-Go
// modernc.org/sqlite driver, so the binary stays static).
//
// The database runs in WAL mode with synchronous=FULL: a message is on disk before
// CreateMessage returns. All writes go through one writer connection, fed by a single
// goroutine that commits concurrent calls together (group commit), so the cost of the
// fsync is shared by every call in the batch. Reads use a separate pool of read-only
// connections and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/migration"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ hookd.Store = (*Store)(nil)

// Store is hookd's embedded store. Create it with Open.
type Store struct {
	path   string
	fullAt atomic.Int64 // when a write last failed for a full disk (Unix ns), 0 if never
	writer *sql.DB      // one connection: every write
	reader *sql.DB      // read-only pool

	ops      chan *writeOp
	quit     chan struct{}
	done     chan struct{}
	closeMu  sync.RWMutex // held for reading while a write is queued
	closed   bool
	wake     chan struct{}
	wstmts   map[string]*sql.Stmt // writer goroutine only
	rstmtsMu sync.Mutex
	rstmts   map[string]*sql.Stmt

	// replayEveryWrite makes the writer treat every call as if one of its batch had
	// failed: it runs and rolls back, then runs again in a savepoint. Tests set it to
	// show that no call counts or writes twice when replayed.
	replayEveryWrite atomic.Bool
}

// Open opens (creating if needed) the SQLite database at path, applies pending
// migrations and starts the writer. ":memory:" gives a private in-memory database
// (reads then share the single writer connection).
func Open(ctx context.Context, path string) (*Store, error) {
	s := &Store{
		path:   path,
		ops:    make(chan *writeOp, 1024),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		wstmts: make(map[string]*sql.Stmt),
		rstmts: make(map[string]*sql.Stmt),
	}
	memory := path == ":memory:"
	if !memory {
		if err := createPrivate(path); err != nil {
			return nil, err
		}
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s.writer = w
	if memory {
		s.reader = w
	} else {
		r, err := sql.Open("sqlite", dsn(path, true))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		r.SetConnMaxIdleTime(0)
		s.reader = r
	}
	if !memory {
		if err := s.useIncrementalVacuum(ctx); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	if err := s.Migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	go s.run()
	return s, nil
}

// dsn builds the driver's connection string. Every connection waits up to 10 s for a
// lock instead of failing, enforces foreign keys, and writes through the WAL with a
// sync at every commit (FULL), so accepted messages survive power loss.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if path != ":memory:" {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// Each call in a group commit runs in a savepoint, so SQLite keeps a statement
		// journal of the pages the call changes; in memory it costs no write(2)
		// (it never needs to survive a crash: the WAL holds what is committed).
		q.Add("_pragma", "temp_store(MEMORY)")
		// Deleted and overwritten content (an expunged payload, a purged message) is
		// zeroed in the file rather than left in free space.
		q.Add("_pragma", "secure_delete(1)")
	}
	if path == ":memory:" {
		return ":memory:?" + q.Encode()
	}
	return "file:" + path + "?" + q.Encode()
}

// Migrate applies the embedded migrations that the database has not seen yet, each in
// its own transaction, recording them in schema_migrations. Open calls it.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.migrate(ctx)
	return err
}

// migrate applies the pending migrations and returns the schema version.
func (s *Store) migrate(ctx context.Context) (int, error) {
	ms, err := migration.Load(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return migration.Run(ctx, migrationTarget{s.writer}, ms)
}

// SchemaVersion applies pending migrations (as Open did already) and returns the
// database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) { return s.migrate(ctx) }

// migrationTarget applies migrations through the writer connection. Its transactions
// take the write lock at BEGIN (_txlock=immediate), so of two processes opening one
// file at once, the second sees the first's versions.
type migrationTarget struct{ db *sql.DB }

func (t migrationTarget) Applied(ctx context.Context) (map[int]bool, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (t migrationTarget) Apply(ctx context.Context, m migration.Migration) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
		return err
	}
	return tx.Commit()
}

// DB returns the writer handle (a pool of exactly one connection). Other packages
// that keep their own tables in the same file, such as the receiver-side idempotency
// store, write through it so that writes stay serialized.
func (s *Store) DB() *sql.DB { return s.writer }

// Wake returns a channel signalled after a commit that created due work.
func (s *Store) Wake() <-chan struct{} { return s.wake }

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.isFull() {
		return errDiskFull(nil)
	}
	var one int
	if err := s.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close stops the writer after the queued writes and closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.quit)
	s.closeMu.Unlock()
	<-s.done
	// Keep the planner's statistics fresh for the next start (cheap when unchanged).
	_, err := s.writer.Exec(`PRAGMA optimize`)
	return errors.Join(err, s.closeDBs())
}

func (s *Store) closeDBs() error {
	s.rstmtsMu.Lock()
	for _, st := range s.rstmts {
		st.Close()
	}
	s.rstmtsMu.Unlock()
	for _, st := range s.wstmts {
		st.Close()
	}
	var err error
	if s.reader != s.writer {
		err = s.reader.Close()
	}
	return errors.Join(err, s.writer.Close())
}

// rstmt returns the read statement for query, prepared once.
func (s *Store) rstmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.rstmtsMu.Lock()
	defer s.rstmtsMu.Unlock()
	if st, ok := s.rstmts[query]; ok {
		return st, nil
	}
	st, err := s.reader.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.rstmts[query] = st
	return st, nil
}

// queryRow runs a prepared read returning one row.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *row {
	st, err := s.rstmt(ctx, query)
	if err != nil {
		return &row{err: err}
	}
	return &row{row: st.QueryRowContext(ctx, args...)}
}

// maxReadStmts bounds the prepared read statements; queries built from filters come in
// many shapes, and past this many they are parsed at every call instead.
const maxReadStmts = 256

// query runs a read, prepared once while fewer than maxReadStmts are cached.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s.rstmtsMu.Lock()
	st, ok := s.rstmts[query]
	full := len(s.rstmts) >= maxReadStmts
	s.rstmtsMu.Unlock()
	if !ok && full {
		return s.reader.QueryContext(ctx, query, args...)
	}
	if !ok {
		var err error
		if st, err = s.rstmt(ctx, query); err != nil {
			return nil, err
		}
	}
	return st.QueryContext(ctx, args...)
}

// row is a *sql.Row that may carry a preparation error.
type row struct {
	row *sql.Row
	err error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

// createPrivate creates the database file readable by its owner only, unless it
// exists. SQLite gives the -wal and -shm files it creates the database file's
// permissions, so they are private too.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	return f.Close()
}

// useIncrementalVacuum turns auto_vacuum to INCREMENTAL, so that ReclaimSpace can give
// the pages purges free back to the file system. Once a file has its first page
// (switching to WAL writes it) the setting only takes effect through a VACUUM, which
// rewrites the file: instant for a new one, once at the first start after an upgrade
// for an existing one.
// vacuumOnOpenMax is the largest file, in bytes, useIncrementalVacuum rewrites at
// start (a variable so that a test can lower it).
var vacuumOnOpenMax int64 = 512 << 20

func (s *Store) useIncrementalVacuum(ctx context.Context) error {
	const incremental = 2
	mode := func() (int, error) {
		var m int
		err := s.writer.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&m)
		return m, err
	}
	m, err := mode()
	if err != nil {
		return fmt.Errorf("sqlite auto_vacuum: %w", err)
	}
	if m == incremental {
		return nil
	}
	if _, err := s.writer.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("sqlite auto_vacuum: %w", err)
	}
	if m, err = mode(); err != nil || m == incremental {
		return err
	}
	var pages, pageSize int64
	if err := s.writer.QueryRowContext(ctx, `SELECT (SELECT page_count FROM pragma_page_count()), (SELECT page_size FROM pragma_page_size())`).Scan(&pages, &pageSize); err != nil {
		return fmt.Errorf("sqlite page count: %w", err)
	}
	if size := pages * pageSize; size > vacuumOnOpenMax {
		// Rewriting a large file at start would keep hookd from serving for minutes
		// and needs as much free disk again. Without the switch, purged pages are
		// still reused for new rows, so the file stops growing; it only does not
		// shrink.
		slog.Warn("sqlite: the database file is not switched to incremental vacuum at start because it is large; purged space is reused but not given back to the file system (to switch it, stop hookd and run \"PRAGMA auto_vacuum=INCREMENTAL; VACUUM;\" on the file with the sqlite3 shell, with free disk of its size)",
			"size_bytes", size, "limit_bytes", vacuumOnOpenMax)
		return nil
	}
	// The rewrite's temporary data goes to a file, not to memory as the writer's
	// other temporary data does.
	if _, err := s.writer.ExecContext(ctx, `PRAGMA temp_store = FILE`); err != nil {
		return fmt.Errorf("sqlite temp_store: %w", err)
	}
	_, err = s.writer.ExecContext(ctx, `VACUUM`)
	if _, err2 := s.writer.ExecContext(ctx, `PRAGMA temp_store = MEMORY`); err == nil && err2 != nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("sqlite vacuum to switch auto_vacuum to incremental: %w", err)
	}
	if m, err = mode(); err != nil || m != incremental {
		return fmt.Errorf("sqlite auto_vacuum is %d after VACUUM, want %d (incremental): %v", m, incremental, err)
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hookd/hookd"
	sqlite3 "modernc.org/sqlite/lib"
)

// maxBatch bounds how many queued calls one transaction commits.
const maxBatch = 256

// errClosed is returned for writes after Close.
var errClosed = errors.New("sqlite store is closed")

// writeOp is one call queued for the writer goroutine. fn runs inside the batch's
// transaction (inside its own savepoint when the batch has several calls) and reports
// whether it created due work, which wakes the dispatchers after the commit.
type writeOp struct {
	ctx  context.Context
	fn   func(tx *wtx) (wake bool, err error)
	err  error
	wake bool
	done chan struct{}
}

// write queues fn for the writer and waits for the commit. Once queued, the call waits
// for the outcome even if ctx ends, so a nil error always means committed and an error
// means nothing of fn was committed.
func (s *Store) write(ctx context.Context, fn func(tx *wtx) (bool, error)) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan struct{})}
	// Close waits for queued writes: it cannot close quit while we are enqueueing.
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return errClosed
	}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	<-op.done
	return s.noteFull(op.err)
}

// noteFull turns a write's error into ESTORAGEFULL when the disk is full, and
// remembers when (see fullFor).
func (s *Store) noteFull(err error) error {
	if err == nil || !diskFull(err) {
		return err
	}
	s.fullAt.Store(time.Now().UnixNano())
	return errDiskFull(err)
}

// fullFor is how long after a write failed for a full disk Ping reports the disk
// full: small writes may still fit while larger ones fail, so one success does not
// prove there is room again.
const fullFor = 10 * time.Second

// isFull reports whether a write failed for a full disk within fullFor.
func (s *Store) isFull() bool {
	at := s.fullAt.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < fullFor
}

// diskFull reports whether err says the database's disk is full.
func diskFull(err error) bool {
	return sqliteCode(err)&0xff == sqlite3.SQLITE_FULL || errors.Is(err, syscall.ENOSPC)
}

func errDiskFull(err error) error {
	return &hookd.Error{Code: hookd.ESTORAGEFULL, Message: "the database's disk is full: nothing can be written until space is freed", Err: err}
}

// run is the writer goroutine: it takes every queued call (up to maxBatch), executes
// them in one transaction and commits once.
func (s *Store) run() {
	defer close(s.done)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-s.ops:
			batch = append(batch, op)
		case <-s.quit:
			// Finish what was queued before Close.
			for {
				select {
				case op := <-s.ops:
					s.commit([]*writeOp{op})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// commit executes batch in one transaction. A call that fails is rolled back to its
// savepoint and does not affect the others.
//
// Calls rarely fail, and savepoints are not free (two more statements per call, and
// a statement journal of every page a call changes), so a batch first runs without
// them (commitAll); only when a call fails is that transaction rolled back and the
// batch run again with a savepoint per call. Calls are therefore written to be run
// more than once: they derive everything they report from their last run.
func (s *Store) commit(batch []*writeOp) {
	ctx := context.Background()
	finish := func(err error) {
		wake := false
		for _, op := range batch {
			if err != nil && op.err == nil {
				op.err = err
			}
			if op.err == nil && op.wake {
				wake = true
			}
			close(op.done)
		}
		if wake {
			s.signal()
		}
	}
	// Skip calls whose caller gave up before we started.
	live := batch[:0:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err = err
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		finish(nil)
		return
	}
	if len(live) > 1 || s.replayEveryWrite.Load() {
		ok, err := s.commitAll(ctx, live)
		if err != nil {
			finish(err)
			return
		}
		if ok {
			finish(nil)
			return
		}
		for _, op := range live {
			op.wake, op.err = false, nil
		}
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		finish(fmt.Errorf("begin: %w", err))
		return
	}
	w := &wtx{s: s, tx: tx}
	defer w.prepareNew()
	savepoints := len(live) > 1 || s.replayEveryWrite.Load()
	for _, op := range live {
		if savepoints {
			if _, err := w.exec(`SAVEPOINT op`); err != nil {
				op.err = fmt.Errorf("savepoint: %w", err)
				continue
			}
		}
		op.wake, op.err = op.fn(w)
		if savepoints {
			if op.err != nil {
				if _, err := w.exec(`ROLLBACK TO op`); err != nil {
					tx.Rollback()
					finish(fmt.Errorf("rollback to savepoint: %w", err))
					return
				}
			}
			if _, err := w.exec(`RELEASE op`); err != nil {
				tx.Rollback()
				finish(fmt.Errorf("release savepoint: %w", err))
				return
			}
		}
	}
	if !savepoints && live[0].err != nil {
		tx.Rollback()
		finish(nil)
		return
	}
	if err := tx.Commit(); err != nil {
		finish(fmt.Errorf("commit: %w", err))
		return
	}
	finish(nil)
}

// commitAll runs every call of batch in one transaction without savepoints and
// commits. It reports false, having rolled back and committed nothing, when a call
// fails; an error means the transaction could not begin or commit.
func (s *Store) commitAll(ctx context.Context, batch []*writeOp) (bool, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	w := &wtx{s: s, tx: tx}
	defer w.prepareNew()
	for _, op := range batch {
		if op.wake, op.err = op.fn(w); op.err != nil || s.replayEveryWrite.Load() {
			if err := tx.Rollback(); err != nil {
				return false, fmt.Errorf("rollback: %w", err)
			}
			return false, nil
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// wtx runs statements in the writer's transaction, with statements prepared once on
// the writer connection.
type wtx struct {
	s     *Store
	tx    *sql.Tx
	fresh []string
}

// stmt returns query prepared for the transaction. The writer pool's only connection
// is busy with the transaction, so a query seen for the first time is prepared on the
// transaction and, after it ends, on the pool for reuse (see prepareNew).
func (w *wtx) stmt(query string) (*sql.Stmt, error) {
	if st := w.s.wstmts[query]; st != nil {
		return w.tx.StmtContext(context.Background(), st), nil
	}
	st, err := w.tx.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.fresh = append(w.fresh, query)
	return st, nil
}

// prepareNew prepares on the pool the statements first seen in the last transaction.
func (w *wtx) prepareNew() {
	for _, q := range w.fresh {
		if w.s.wstmts[q] != nil {
			continue
		}
		st, err := w.s.writer.PrepareContext(context.Background(), q)
		if err == nil {
			w.s.wstmts[q] = st
		}
	}
	w.fresh = nil
}

func (w *wtx) exec(query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

// affected runs query and returns how many rows it changed.
func (w *wtx) affected(query string, args ...any) (int64, error) {
	res, err := w.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (w *wtx) queryRow(query string, args ...any) *row {
	st, err := w.stmt(query)
	if err != nil {
		return &row{err: err}
	}
	return &row{row: st.QueryRowContext(context.Background(), args...)}
}

func (w *wtx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(context.Background(), args...)
}

package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The floor is the third thing hookd is compared with: the durable relay (relay.go)
// with its file replaced by the least SQLite work any SQLite-backed sender with
// hookd's guarantees must also do per message, on the same machine in the same run.
// Its rate bounds what any hookd design on SQLite could reach; floor_ratio (its rate
// ÷ the relay's) is that bound as a share of the relay, the bound on relay_ratio.
//
// Per message it does, through modernc.org/sqlite with hookd's settings (WAL,
// synchronous=FULL, one writer connection that commits concurrent calls together,
// at most 256 calls a commit):
//
//   - the least check of the body a message API makes (a JSON object with an
//     eventType and a payload object);
//   - one row in a messages table (an integer primary key, the Idempotency-Key,
//     the body) with the key in a unique index, committed before the message is
//     answered 202;
//   - after the answer, as hookd delivers after it answers, the relay's signed
//     forward to each fan-out endpoint, by as many goroutines as there are clients;
//   - one row per forward in an attempts table (message, endpoint, attempt number,
//     status code, duration, time) clustered by message, with an index by
//     endpoint, so that both attempt lists of the API are indexed; committed by a
//     later group commit. The phase ends when the last one is durable.
//
// It leaves out everything else hookd does: authentication, validating the message
// beyond that, looking up its application and matching endpoints, message IDs
// (a counter instead), scoping keys to an application and storing their answers
// (a repeated key gets 409), delivery rows with their status, due time and lease,
// retries and circuit breaking, the other secondary indexes (messages by
// application, event type and eventId; attempts by status), per-minute counters,
// response bodies, foreign keys, secure delete and the savepoints hookd's writer
// falls back to. Each commit's rows go in as one multi-row INSERT per table, fewer
// statements than hookd runs.

// floorQueue is what the SQLite and PostgreSQL floors share: the rows waiting for
// their writers, which commit what is queued together (group commit). A message's
// caller waits for its commit; an attempt's does not.
type floorQueue struct {
	ops     chan *floorOp
	pending sync.WaitGroup // attempt records queued and not yet committed
	commits atomic.Int64

	mu         sync.Mutex
	lastCommit time.Time
	firstErr   error
}

// floorOp is one row for the writer: a message (done is then awaited) or an attempt.
type floorOp struct {
	seq  int64
	key  string
	body []byte

	attempt    bool
	slot, code int
	took       time.Duration
	at         time.Time

	fresh bool
	err   error
	done  chan struct{}
}

func newFloorQueue() floorQueue { return floorQueue{ops: make(chan *floorOp, 1024)} }

// errFloorMessage refuses a body that is not a message.
var errFloorMessage = errors.New("floor: the body is not a message (eventType and payload object)")

func (q *floorQueue) keep(seq int64, key string, body []byte) (bool, error) {
	// The least check a message API makes: a JSON object with an event type and a
	// payload object.
	var in struct {
		EventType string          `json:"eventType"`
		Payload   json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.EventType == "" || len(in.Payload) == 0 || in.Payload[0] != '{' {
		return false, errFloorMessage
	}
	op := &floorOp{seq: seq, key: key, body: body, done: make(chan struct{})}
	q.ops <- op
	<-op.done
	return op.fresh, op.err
}

func (q *floorQueue) attempted(seq int64, slot, code int, took time.Duration) {
	q.pending.Add(1)
	q.ops <- &floorOp{attempt: true, seq: seq, slot: slot, code: code, took: took, at: time.Now()}
}

func (q *floorQueue) settle() (time.Time, error) {
	q.pending.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	at, err := q.lastCommit, q.firstErr
	q.lastCommit = time.Time{}
	return at, err
}

func (q *floorQueue) commitCount() int64 { return q.commits.Load() }

// write is a writer: until ops is closed, it takes every queued row (up to
// maxRelayBatch), commits them with commit (the batch's messages and its attempts
// apart), then calls after (if set; outside the commit's time) and finishes them.
func (q *floorQueue) write(commit func(msgs, atts []*floorOp) error, after func()) {
	batch := make([]*floorOp, 0, maxRelayBatch)
	var msgs, atts []*floorOp
	for op := range q.ops {
		batch = takeBatch(q.ops, append(batch[:0], op))
		msgs, atts = msgs[:0], atts[:0]
		for _, op := range batch {
			if op.attempt {
				atts = append(atts, op)
			} else {
				msgs = append(msgs, op)
			}
		}
		err := commit(msgs, atts)
		now := time.Now()
		if after != nil {
			after()
		}
		q.commits.Add(1)
		q.mu.Lock()
		if now.After(q.lastCommit) {
			q.lastCommit = now
		}
		if err != nil && q.firstErr == nil {
			q.firstErr = err
		}
		q.mu.Unlock()
		for _, op := range batch {
			if op.attempt {
				q.pending.Done()
				continue
			}
			op.err = err
			close(op.done)
		}
	}
}

// floorStore is the floor's database: a relayKeeper on SQLite.
type floorStore struct {
	floorQueue
	db *sql.DB

	stmts map[string]*sql.Stmt // writer goroutine only
	done  chan struct{}
}

const floorSchema = `
CREATE TABLE messages (
	id   INTEGER PRIMARY KEY,
	key  TEXT,
	body BLOB NOT NULL
);
CREATE UNIQUE INDEX messages_key ON messages (key) WHERE key IS NOT NULL;
CREATE TABLE attempts (
	msg_id      INTEGER NOT NULL,
	endpoint    INTEGER NOT NULL,
	n           INTEGER NOT NULL,
	status_code INTEGER NOT NULL,
	duration    INTEGER NOT NULL,
	timestamp   INTEGER NOT NULL,
	PRIMARY KEY (msg_id, endpoint, n)
) WITHOUT ROWID;
CREATE INDEX attempts_endpoint ON attempts (endpoint, msg_id);`

func openFloorStore(path string) (*floorStore, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("floor: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if _, err := db.Exec(floorSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("floor: schema: %w", err)
	}
	s := &floorStore{floorQueue: newFloorQueue(), db: db, stmts: map[string]*sql.Stmt{}, done: make(chan struct{})}
	go s.run()
	return s, nil
}

func (s *floorStore) close() {
	close(s.ops)
	<-s.done
	for _, st := range s.stmts {
		st.Close()
	}
	s.db.Close()
}

// run is the writer: one, as hookd's SQLite writer is. The statements a commit ran
// unprepared are prepared after it.
func (s *floorStore) run() {
	defer close(s.done)
	var fresh []string
	s.write(func(msgs, atts []*floorOp) error {
		fresh = fresh[:0]
		return s.commit(msgs, atts, &fresh)
	}, func() { s.prepare(fresh) })
}

// commit writes a batch in one transaction: its messages in one INSERT, its attempts
// in another.
func (s *floorStore) commit(msgs, atts []*floorOp, fresh *[]string) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("floor: begin: %w", err)
	}
	defer tx.Rollback()
	if len(msgs) > 0 {
		args := make([]any, 0, 3*len(msgs))
		for _, op := range msgs {
			var key any
			if op.key != "" {
				key = op.key
			}
			args = append(args, op.seq, key, op.body)
		}
		res, err := s.exec(tx, fresh, "INSERT OR IGNORE INTO messages (id, key, body) VALUES ", "(?, ?, ?)", len(msgs), args)
		if err != nil {
			return fmt.Errorf("floor: insert messages: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("floor: insert messages: %w", err)
		}
		for _, op := range msgs {
			op.fresh = true
		}
		if int(n) < len(msgs) {
			// A repeated key: find which messages were not inserted.
			for _, op := range msgs {
				var c int
				if err := tx.QueryRow(`SELECT count(*) FROM messages WHERE id = ?`, op.seq).Scan(&c); err != nil {
					return fmt.Errorf("floor: find repeated keys: %w", err)
				}
				op.fresh = c == 1
			}
		}
	}
	if len(atts) > 0 {
		args := make([]any, 0, 5*len(atts))
		for _, op := range atts {
			args = append(args, op.seq, op.slot, op.code, int64(op.took/time.Microsecond), op.at.UnixMicro())
		}
		if _, err := s.exec(tx, fresh, "INSERT INTO attempts (msg_id, endpoint, n, status_code, duration, timestamp) VALUES ", "(?, ?, 1, ?, ?, ?)", len(atts), args); err != nil {
			return fmt.Errorf("floor: insert attempts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("floor: commit: %w", err)
	}
	return nil
}

// exec runs the multi-row INSERT head + n × row in tx, through the statement
// prepared for it once the first transaction that needed it was over (the one
// connection is busy with tx, so a statement seen for the first time runs
// unprepared and is noted in fresh).
func (s *floorStore) exec(tx *sql.Tx, fresh *[]string, head, row string, n int, args []any) (sql.Result, error) {
	q := head + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	if st := s.stmts[q]; st != nil {
		return tx.Stmt(st).Exec(args...)
	}
	*fresh = append(*fresh, q)
	return tx.Exec(q, args...)
}

// prepare prepares the statements the last transaction ran unprepared.
func (s *floorStore) prepare(fresh []string) {
	for _, q := range fresh {
		if s.stmts[q] != nil {
			continue
		}
		if st, err := s.db.PrepareContext(context.Background(), q); err == nil {
			s.stmts[q] = st
		}
	}
}

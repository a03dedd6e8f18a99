package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// Message ingest commits concurrent CreateMessage calls together (group commit): each
// commit waits for a WAL flush, so one commit for many messages is what lets ingest
// go faster than the disk syncs. A few ingest workers take the queued calls, up to
// maxIngestBatch at a time, and write each batch in one round trip: multi-row
// INSERTs from arrays in one implicit transaction. Batches form by themselves under
// load (calls queue while the workers wait for their commits) and add no latency
// when idle. A batch that fails as a whole (a taken ID, a deleted application, a
// deadlock) is written again call by call, so a failing call fails alone.
const (
	// maxIngestBatch bounds the messages of one transaction.
	maxIngestBatch = 256
	// ingestWorkers is how many batches may be in flight at once.
	ingestWorkers = 2
	// ingestTimeout bounds one batch's round trip, so that callers, who wait for
	// the outcome whatever their context, cannot hang on a dead connection.
	ingestTimeout = 30 * time.Second
)

// errClosed is returned for CreateMessage calls after Close.
var errClosed = errors.New("postgres store is closed")

// createOp is one queued CreateMessage call. The worker sets prev and err and then
// closes done.
type createOp struct {
	ctx        context.Context
	msg        *hookd.Message
	deliveries []*hookd.Delivery
	prev       *hookd.Message
	err        error
	done       chan struct{}
}

// CreateMessage inserts msg and its deliveries and announces the new work to every
// node. Concurrent calls are committed together in one transaction (see ingest.go);
// each call still gets its own outcome, and a nil error means committed. A repeated
// EventID returns the earlier message with ECONFLICT, also when the earlier message
// came in the same batch; the primary key of message_event_ids, which a trigger on
// messages fills (migration 0018), makes that hold across nodes.
func (s *Store) CreateMessage(ctx context.Context, msg *hookd.Message, deliveries []*hookd.Delivery) (*hookd.Message, error) {
	op := &createOp{ctx: ctx, msg: msg, deliveries: deliveries, done: make(chan struct{})}
	// Close waits for queued calls: it cannot close the queue while we enqueue.
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, errClosed
	}
	select {
	case s.creates <- op:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once queued, the call waits for the outcome even if ctx ends, so that an
	// error always means that nothing of it was written.
	<-op.done
	if op.err != nil {
		return op.prev, op.err
	}
	return msg, nil
}

// ingest is one ingest worker: it takes the queued calls, up to maxIngestBatch, and
// writes them, until the queue is closed and drained.
func (s *Store) ingest() {
	defer s.ingestWG.Done()
	batch := make([]*createOp, 0, maxIngestBatch)
	for op := range s.creates {
		batch = append(batch[:0], op)
	fill:
		for len(batch) < maxIngestBatch {
			select {
			case op, ok := <-s.creates:
				if !ok {
					break fill
				}
				batch = append(batch, op)
			default:
				break fill
			}
		}
		s.writeMessages(batch)
	}
}

// writeMessages writes the calls of batch and finishes each. A batch holds at most
// one call per (application, EventID): later calls with a key already in the batch
// wait for the next round, where they find the earlier message committed (or, if it
// failed, take its place).
func (s *Store) writeMessages(batch []*createOp) {
	pending := batch[:0:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			// The caller gave up before anything was written.
			op.err = err
			close(op.done)
			continue
		}
		pending = append(pending, op)
	}
	for len(pending) > 0 {
		var round, later []*createOp
		seen := map[eventKey]bool{}
		for _, op := range pending {
			if op.msg.Idempotency != nil {
				// One call per idempotency key too (a key is scoped by application
				// path, hence the empty application).
				k := eventKey{"", op.msg.Idempotency.Key}
				if seen[k] {
					later = append(later, op)
					continue
				}
				seen[k] = true
			}
			if op.msg.EventID != "" {
				k := eventKey{op.msg.AppID, op.msg.EventID}
				if seen[k] {
					later = append(later, op)
					continue
				}
				seen[k] = true
			}
			round = append(round, op)
		}
		s.writeRound(round)
		pending = later
	}
}

// eventKey identifies a message's EventID within its application.
type eventKey struct{ appID, eventID string }

// writeRound writes calls with distinct EventIDs in one transaction, or call by call
// if that fails, and finishes them.
func (s *Store) writeRound(ops []*createOp) {
	var err error
	if len(ops) == 1 {
		s.createOne(ops[0])
	} else {
		err = s.createBatch(ops)
	}
	wake := false
	for _, op := range ops {
		if err != nil {
			// The batch's transaction rolled back: nothing of it was written.
			op.prev, op.err = nil, nil
			s.createOne(op)
		}
		if op.err == nil && hookd.Claimable(op.deliveries) {
			wake = true
		}
		close(op.done)
	}
	if wake {
		s.signal()
	}
}

// messageInsert inserts the messages given as arrays, skipping those whose EventID
// the application already used, and returns the IDs of those it inserted.
const messageInsert = `INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, timestamp,
		payload_expires_at, ordering_key)
	SELECT r.id, r.app_id, r.event_type, r.event_id, r.payload,
		CASE WHEN r.channels IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.channels::jsonb)) END,
		CASE WHEN r.tags IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.tags::jsonb)) END,
		r.timestamp, r.payload_expires_at, r.ordering_key
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::timestamptz[],
			$9::timestamptz[], $10::text[])
		WITH ORDINALITY AS r(id, app_id, event_type, event_id, payload, channels, tags, timestamp, payload_expires_at,
			ordering_key, n)
	ORDER BY r.n
	RETURNING id`

// createBatch writes several calls with distinct EventIDs in one round trip and one
// transaction: the messages, the deliveries of those inserted, one notification,
// and the earlier messages of those skipped for their EventID, which it sets as the
// calls' outcome. An error means that the transaction rolled back.
func (s *Store) createBatch(ops []*createOp) error {
	// The deliveries are inserted in the calls' order, so that ordered ones follow
	// the order in which their messages were accepted.
	var ds []*hookd.Delivery
	for _, op := range ops {
		ds = append(ds, op.deliveries...)
	}
	// A fixed order of the unique keys keeps concurrent batches (of this node or
	// others) from deadlocking on each other's EventIDs.
	ops = slices.Clone(ops)
	slices.SortFunc(ops, func(a, b *createOp) int {
		return cmp.Or(cmp.Compare(a.msg.AppID, b.msg.AppID), cmp.Compare(a.msg.EventID, b.msg.EventID))
	})
	n := len(ops)
	var (
		ids, apps, types = make([]string, n), make([]string, n), make([]string, n)
		eventIDs         = make([]*string, n)
		payloads         = make([][]byte, n)
		channels, tags   = make([]*string, n), make([]*string, n)
		times            = make([]time.Time, n)
		expires          = make([]*time.Time, n)
		orderingKeys     = make([]string, n)
		keyApps, keyIDs  []string
		keyMsgs          []string
		announce         []string
	)
	for i, op := range ops {
		m := op.msg
		ids[i], apps[i], types[i], eventIDs[i] = m.ID, m.AppID, m.EventType, nullString(m.EventID)
		payloads[i], times[i], expires[i] = []byte(m.Payload), m.Timestamp, nullTime(m.PayloadExpiresAt)
		orderingKeys[i] = m.OrderingKey
		channels[i], tags[i] = jsonList(m.Channels), jsonList(m.Tags)
		if m.EventID != "" {
			keyApps, keyIDs, keyMsgs = append(keyApps, m.AppID), append(keyIDs, m.EventID), append(keyMsgs, m.ID)
		}
		if hookd.Claimable(op.deliveries) {
			announce = append(announce, m.ID)
		}
	}
	b := &pgx.Batch{}
	queueHotPlans(b)
	inserted := make(map[string]bool, n)
	query, args := messageInsert, []any{ids, apps, types, eventIDs, payloads, channels, tags, times, expires, orderingKeys}
	msgs := make([]*hookd.Message, n)
	for i, op := range ops {
		msgs[i] = op.msg
	}
	ans := answersOf(msgs)
	if ans != nil {
		ikeys := make([]*string, n)
		for i, m := range msgs {
			ikeys[i] = keyOf(m)
		}
		args = []any{ids, apps, types, eventIDs, payloads, channels, tags, times}
		query, args = messageInsertKeyed, append(append(args, ans.args()...), ikeys, expires, orderingKeys)
	}
	if len(ds) > 0 {
		// The deliveries in the same statement, of the messages it inserted only:
		// those skipped for their EventID do not exist. (A message ID that existed
		// before fails the insert.)
		query, args = withDeliveries(query, len(args)+1), append(args, deliveryArrays(ds, nil)[:11]...)
	}
	b.Queue(query, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inserted[id] = true
		}
		return rows.Err()
	})
	if (ans != nil && ans.undo) || len(announce) > 0 || len(keyApps) > 0 {
		// The statements after the insert reach messages, answers and EventIDs by
		// key (queueLookupPlans says why they must).
		queueLookupPlans(b)
	}
	if ans != nil {
		ans.queueUndo(b)
	}
	if len(announce) > 0 {
		// A join, so that the messages are looked up by key (queueLookupPlans).
		b.Queue(`SELECT pg_notify($2, '')
			WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS a(id) JOIN messages m ON m.id = a.id)`, announce, s.channel)
	}
	earlier := map[eventKey]*hookd.Message{}
	if len(keyApps) > 0 {
		b.Queue(`SELECT `+messageColumns+` FROM unnest($1::text[], $2::text[], $3::text[]) AS k(app_id, event_id, id)
			JOIN message_event_ids e ON e.app_id = k.app_id AND e.event_id = k.event_id AND e.msg_id <> k.id
			JOIN messages m ON m.id = e.msg_id`,
			keyApps, keyIDs, keyMsgs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				m, err := scanMessage(rows)
				if err != nil {
					return err
				}
				earlier[eventKey{m.AppID, m.EventID}] = m
			}
			return rows.Err()
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), ingestTimeout)
	defer cancel()
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	for _, op := range ops {
		if inserted[op.msg.ID] {
			continue
		}
		if r := op.msg.Idempotency; r != nil {
			// Skipped for its key, which has an answer or a claim, or else for its
			// EventID.
			if op.err = s.answerOutcome(ctx, r); op.err != nil {
				continue
			}
		}
		// Skipped for its EventID. The earlier message may have gone meanwhile
		// (with its application); the call still wrote nothing.
		if prev := earlier[eventKey{op.msg.AppID, op.msg.EventID}]; prev != nil {
			op.prev, op.err = prev, hookd.Errorf(hookd.ECONFLICT, "a message with this eventId already exists")
		} else {
			op.err = fmt.Errorf("read message with the same eventId: %w", pgx.ErrNoRows)
		}
	}
	return nil
}

// jsonList encodes a list for messageInsert, which takes each message's lists as
// JSON text (arrays of arrays must be rectangular): NULL for nil, so that a list
// reads back as it was given.
func jsonList(l []string) *string {
	if l == nil {
		return nil
	}
	b, _ := json.Marshal(l) // a []string always encodes
	s := string(b)
	return &s
}

// withDeliveries turns query, an insert of messages (after answersInsert's WITH, if
// it has one) that returns the IDs of those it inserted, into one statement that
// also inserts deliveries given as arrays from parameter first on (deliveryArrays'
// eleven), those of the messages inserted only, in array order (fifo_seq follows
// it), and returns the same IDs. The deliveries' messages are new: two deliveries to
// one endpoint fail the statement, as with newDeliveriesInsert. One statement instead
// of two saves a round of the executor and the deliveries' check that their message
// exists, which on the partitioned messages table reached every partition.
func withDeliveries(query string, first int) string {
	with := "WITH "
	if rest, ok := strings.CutPrefix(query, answersInsert); ok {
		with, query = strings.TrimSuffix(answersInsert, "\n")+",\n", rest
	}
	n := make([]any, 11)
	for i := range n {
		n[i] = first + i
	}
	return with + "m AS (" + query + `),
	d AS (
		INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts,
			next_attempt, trigger, created_at, updated_at, fifo_key)
		SELECT r.id, r.app_id, r.msg_id, r.endpoint_id, r.status, r.attempts, r.next_attempt, r.trigger,
			r.created_at, r.updated_at, r.fifo_key
		FROM unnest(` + fmt.Sprintf(`$%d::text[], $%d::text[], $%d::text[], $%d::text[], $%d::smallint[], $%d::integer[],
			$%d::timestamptz[], $%d::smallint[], $%d::timestamptz[], $%d::timestamptz[], $%d::text[]`, n...) + `)
			WITH ORDINALITY AS r(id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, trigger,
				created_at, updated_at, fifo_key, n)
		WHERE r.msg_id IN (SELECT id FROM m)
		ORDER BY r.n)
	SELECT id FROM m`
}

// createOne writes one call in one round trip and sets its outcome.
func (s *Store) createOne(op *createOp) {
	ctx, cancel := context.WithTimeout(context.Background(), ingestTimeout)
	defer cancel()
	msg, deliveries := op.msg, op.deliveries
	b := &pgx.Batch{}
	queueHotPlans(b)
	var inserted bool
	query := `INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, timestamp,
			payload_expires_at, ordering_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		RETURNING id`
	args := []any{msg.ID, msg.AppID, msg.EventType, nullString(msg.EventID), []byte(msg.Payload), msg.Channels,
		msg.Tags, msg.Timestamp, nullTime(msg.PayloadExpiresAt), msg.OrderingKey}
	ans := answersOf([]*hookd.Message{msg})
	if ans != nil {
		query = answersInsert + `INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, timestamp,
			payload_expires_at, ordering_key)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::bytea, $6::text[], $7::text[], $8::timestamptz, $15::timestamptz,
			$16::text
		WHERE EXISTS (SELECT 1 FROM k)
		RETURNING id`
		args = append(append(args[:8:8], ans.args()...), nullTime(msg.PayloadExpiresAt), msg.OrderingKey)
	}
	if len(deliveries) > 0 {
		// The deliveries in the same statement, if the message was inserted (rather
		// than skipped for its eventId).
		query, args = withDeliveries(query, len(args)+1), append(args, deliveryArrays(deliveries, nil)[:11]...)
	}
	b.Queue(query, args...).QueryRow(func(row pgx.Row) error {
		var id string
		err := row.Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		inserted = err == nil
		return err
	})
	if (ans != nil && ans.undo) || hookd.Claimable(deliveries) {
		queueLookupPlans(b) // as in createBatch
	}
	if ans != nil {
		ans.queueUndo(b)
	}
	if hookd.Claimable(deliveries) {
		// Only if the message was inserted (rather than skipped for its eventId).
		b.Queue(`SELECT pg_notify($2, '') WHERE EXISTS (SELECT 1 FROM messages WHERE id = $1)`, msg.ID, s.channel)
	}
	err := s.pool.SendBatch(ctx, b).Close()
	switch {
	case isCode(err, codeForeignKeyViolation):
		op.err = hookd.Errorf(hookd.ENOTFOUND, "application not found")
	case err != nil:
		op.err = storeErr(err, "create message", "a message or delivery with this id already exists")
	case !inserted && msg.Idempotency != nil && s.keyTaken(ctx, op):
	case !inserted:
		existing, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages m
			WHERE m.id = (SELECT msg_id FROM message_event_ids WHERE app_id = $1 AND event_id = $2)`, msg.AppID, msg.EventID))
		if err != nil {
			op.err = fmt.Errorf("read message with the same eventId: %w", err)
			break
		}
		op.prev, op.err = existing, hookd.Errorf(hookd.ECONFLICT, "a message with this eventId already exists")
	}
}

// keyTaken sets op's outcome and reports true when its message was skipped for its
// idempotency key (which has an answer or a claim) rather than for its EventID.
func (s *Store) keyTaken(ctx context.Context, op *createOp) bool {
	op.err = s.answerOutcome(ctx, op.msg.Idempotency)
	return op.err != nil
}

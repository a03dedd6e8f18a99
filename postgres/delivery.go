package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const deliveryColumns = `d.id, d.app_id, d.msg_id, d.endpoint_id, d.status, d.attempts, d.next_attempt, d.trigger,
	d.lease, d.created_at, d.updated_at, d.fifo_key, d.fifo_hold`

// fifoHeads is a recursive CTE, heads, of the head of every ordering key's queue: the
// earliest ordered delivery (smallest fifo_seq) of each endpoint and key that is
// pending, sending or held. It is a loose index scan of deliveries_fifo, one probe per
// key, so the deliveries waiting behind their heads are never read; evaluated lazily,
// a LIMIT over it stops the scan early. The conditions on e are deliveries_fifo's, so
// the index answers them.
//
// The claim rule of ordered deliveries follows: a delivery may be claimed when it is
// its key's head and is due (pending or sending, next_attempt passed) and not held.
const fifoHeads = `heads AS (
	(SELECT e.endpoint_id, e.fifo_key, e.msg_id, e.status, e.next_attempt, e.fifo_hold FROM deliveries e
		WHERE e.fifo_key IS NOT NULL AND (e.status IN (1, 3) OR e.fifo_hold)
		ORDER BY e.endpoint_id, e.fifo_key, e.fifo_seq LIMIT 1)
	UNION ALL
	SELECT x.* FROM heads h CROSS JOIN LATERAL (
		SELECT e.endpoint_id, e.fifo_key, e.msg_id, e.status, e.next_attempt, e.fifo_hold FROM deliveries e
		WHERE e.fifo_key IS NOT NULL AND (e.status IN (1, 3) OR e.fifo_hold)
			AND (e.endpoint_id, e.fifo_key) > (h.endpoint_id, h.fifo_key)
		ORDER BY e.endpoint_id, e.fifo_key, e.fifo_seq LIMIT 1) x
)`

// headDue is the condition under which a head h of fifoHeads (or of a key's queue)
// may be claimed at $1.
const headDue = `h.status IN ` + dueStatuses + ` AND h.next_attempt <= $1 AND NOT h.fifo_hold`

// Due statuses, as SQL literals for the partial indexes deliveries_due_unordered and
// deliveries_fifo.
const dueStatuses = "(1, 3)" // hookd.StatusPending, hookd.StatusSending

// claimSQL is the statement that leases the deliveries that the CTE cand (msg_id,
// endpoint_id, next_attempt) lists, up to $3, earliest due first, where they are still due at $1:
// FOR UPDATE SKIP LOCKED lets nodes claim at the same time without waiting on each
// other or handing out a delivery twice (a row that changed since cand read it is
// checked again under its lock); the lease is next_attempt $2 plus a new lease number
// from a sequence, and the status $4. with holds any CTEs cand needs.
func claimSQL(with, cand string) string {
	return `WITH ` + with + `cand AS (` + cand + `), due AS (
			SELECT d.msg_id, d.endpoint_id, d.next_attempt FROM deliveries d
			WHERE (d.msg_id, d.endpoint_id) IN (SELECT msg_id, endpoint_id FROM cand ORDER BY next_attempt LIMIT $3)
				AND d.status IN ` + dueStatuses + ` AND d.next_attempt <= $1
			ORDER BY d.next_attempt LIMIT $3
			FOR UPDATE OF d SKIP LOCKED
		), claimed AS (
			UPDATE deliveries d SET status = $4, next_attempt = $2, lease = nextval('delivery_lease'), updated_at = $1
			FROM due WHERE d.msg_id = due.msg_id AND d.endpoint_id = due.endpoint_id
			RETURNING ` + deliveryColumns + `, due.next_attempt AS due_at
		)
		SELECT d.id, d.app_id, d.msg_id, d.endpoint_id, d.status, d.attempts, d.next_attempt, d.trigger,
			d.lease, d.created_at, d.updated_at, d.fifo_key, d.fifo_hold, ` + messageColumns + `
		FROM claimed d CROSS JOIN LATERAL (
			-- LIMIT keeps this a per-row primary key lookup, never a scan of messages.
			SELECT * FROM messages WHERE id = d.msg_id LIMIT 1) m
		ORDER BY d.due_at, d.id`
}

// claimDueSQL claims the oldest due unordered deliveries (deliveries_due_unordered)
// and the due heads of ordering keys (fifoHeads), up to $3 of each before the
// earliest $3 of them all are taken.
var claimDueSQL = claimSQL(`RECURSIVE `+fifoHeads+`, `, `
	(SELECT h.msg_id, h.endpoint_id, h.next_attempt FROM heads h WHERE `+headDue+` LIMIT $3)
	UNION ALL
	(SELECT d.msg_id, d.endpoint_id, d.next_attempt FROM deliveries d
		WHERE d.status IN `+dueStatuses+` AND d.next_attempt <= $1 AND d.fifo_key IS NULL
		ORDER BY d.next_attempt LIMIT $3)`)

// claimHeadsSQL claims the due heads of the keys given as arrays of endpoint IDs ($5)
// and ordering keys ($6), one deliveries_fifo probe each.
var claimHeadsSQL = claimSQL(``, `
	SELECT h.msg_id, h.endpoint_id, h.next_attempt FROM unnest($5::text[], $6::text[]) AS k(endpoint_id, fifo_key)
	CROSS JOIN LATERAL (
		SELECT e.msg_id, e.endpoint_id, e.status, e.next_attempt, e.fifo_hold FROM deliveries e
		WHERE e.endpoint_id = k.endpoint_id AND e.fifo_key = k.fifo_key
			AND e.fifo_key IS NOT NULL AND (e.status IN (1, 3) OR e.fifo_hold)
		ORDER BY e.fifo_seq LIMIT 1) h
	WHERE `+headDue)

// ClaimDeliveries leases up to limit due deliveries, oldest due first, ordered ones
// only at the head of their key, in one statement (claimDueSQL).
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*hookd.Delivery, error) {
	if limit < 1 {
		return nil, nil
	}
	ds, err := s.claim(ctx, claimDueSQL, now, now.Add(lease), limit, hookd.StatusSending)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return ds, nil
}

// ClaimFIFOHeads leases the due head of each of the keys, in one statement
// (claimHeadsSQL).
func (s *Store) ClaimFIFOHeads(ctx context.Context, now time.Time, lease time.Duration, keys []hookd.FIFOKey) ([]*hookd.Delivery, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	eps, names := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		eps[i], names[i] = k.EndpointID, k.OrderingKey
	}
	ds, err := s.claim(ctx, claimHeadsSQL, now, now.Add(lease), len(keys), hookd.StatusSending, eps, names)
	if err != nil {
		return nil, fmt.Errorf("claim fifo heads: %w", err)
	}
	return ds, nil
}

// claim runs a claimSQL statement.
func (s *Store) claim(ctx context.Context, query string, args ...any) ([]*hookd.Delivery, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Delivery, error) { return scanDeliveryMessage(r) })
}

// RecordAttempts applies each result to its delivery where the lease still matches,
// keeps the endpoints' FailingSince, and inserts the attempts and counts them, all in
// one round trip and one transaction of three statements plus one per endpoint whose
// health changed (see hookd.DeliveryStore.RecordAttempts for the rules).
func (s *Store) RecordAttempts(ctx context.Context, results []hookd.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	var (
		dMsgs, dEps []string
		dLeases     []int64
		dStatus     []int16
		dNext, dAt  []time.Time
		dAttempts   []int32
		dHold       []bool
		attempts    []*hookd.Attempt
	)
	for _, r := range results {
		if a := r.KeyedAttempt(); a != nil {
			attempts = append(attempts, a)
		}
		if d := r.Delivery; d != nil {
			at := r.NextAttempt
			if r.Attempt != nil {
				at = r.Attempt.Timestamp
			}
			dMsgs, dEps = append(dMsgs, d.MsgID), append(dEps, d.EndpointID)
			dLeases, dStatus = append(dLeases, d.Lease), append(dStatus, int16(r.Status))
			dNext, dAttempts, dAt = append(dNext, r.NextAttempt), append(dAttempts, int32(r.Attempts)), append(dAt, at)
			dHold = append(dHold, r.Hold)
		}
	}

	b := &pgx.Batch{}
	queueLookupPlans(b)
	if len(dMsgs) > 0 {
		b.Queue(`UPDATE deliveries d SET status = r.status, next_attempt = r.next_attempt,
				attempts = r.attempts, trigger = $7, updated_at = r.at, fifo_hold = r.hold
			FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::timestamptz[], $5::integer[], $6::timestamptz[],
				$8::boolean[], $9::text[])
				AS r(msg_id, lease, status, next_attempt, attempts, at, hold, endpoint_id)
			WHERE d.msg_id = r.msg_id AND d.endpoint_id = r.endpoint_id AND d.lease = r.lease`,
			dMsgs, dLeases, dStatus, dNext, dAttempts, dAt, hookd.TriggerScheduled, dHold, dEps)
	}
	// EndpointHealth returns the endpoints in ID order, so that nodes recording at
	// once cannot deadlock; each statement writes only when the value changes, so
	// healthy endpoints are not locked at every success.
	for _, h := range hookd.EndpointHealth(attempts) {
		switch {
		case h.Healthy:
			b.Queue(`UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, h.EndpointID)
		case h.Reset:
			b.Queue(`UPDATE endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS DISTINCT FROM $2`, h.EndpointID, h.Since)
		default:
			b.Queue(`UPDATE endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL`, h.EndpointID, h.Since)
		}
	}
	if len(attempts) > 0 {
		// The attempts and their per-minute counters in one statement, last, so that
		// the transaction waits for nothing while it holds a counter row.
		queueSetPlans(b)
		b.Queue(attemptsInsert, append(attemptArrays(attempts), attemptCountArgs(attempts)...)...)
	}
	// The statements of a batch run in one implicit transaction: one round trip.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	return nil
}

// PostponeDeliveries gives claimed deliveries back, due at until, where their lease
// still matches.
func (s *Store) PostponeDeliveries(ctx context.Context, deliveries []*hookd.Delivery, until time.Time) error {
	if len(deliveries) == 0 {
		return nil
	}
	msgs, eps, leases := make([]string, len(deliveries)), make([]string, len(deliveries)), make([]int64, len(deliveries))
	for i, d := range deliveries {
		msgs[i], eps[i], leases[i] = d.MsgID, d.EndpointID, d.Lease
	}
	// One round trip, one implicit transaction: give back, then announce.
	b := &pgx.Batch{}
	b.Queue(`UPDATE deliveries d SET status = $3, next_attempt = $4
		FROM unnest($1::text[], $5::text[], $2::bigint[]) AS r(msg_id, endpoint_id, lease)
		WHERE d.msg_id = r.msg_id AND d.endpoint_id = r.endpoint_id AND d.lease = r.lease`,
		msgs, leases, hookd.StatusPending, until, eps)
	b.Queue(`SELECT pg_notify($1, '')`, s.channel)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postpone deliveries: %w", err)
	}
	s.signal()
	return nil
}

// NextDue returns the earliest next_attempt of a pending or sending unordered delivery
// or ordering key's head that is not held.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `WITH RECURSIVE `+fifoHeads+`
		SELECT least(
			(SELECT min(h.next_attempt) FROM heads h WHERE h.status IN `+dueStatuses+` AND NOT h.fifo_hold),
			(SELECT min(d.next_attempt) FROM deliveries d WHERE d.status IN `+dueStatuses+` AND d.fifo_key IS NULL))`).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due delivery: %w", err)
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// CreateDeliveries inserts deliveries, skipping (message, endpoint) pairs that have
// one, and announces the new work.
func (s *Store) CreateDeliveries(ctx context.Context, deliveries []*hookd.Delivery) (int, error) {
	if len(deliveries) == 0 {
		return 0, nil
	}
	var n int64
	var msgIDs []string
	for _, d := range deliveries {
		if !slices.Contains(msgIDs, d.MsgID) {
			msgIDs = append(msgIDs, d.MsgID)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The messages' key share locks stand in for a foreign key: the message of a
		// delivery cannot go before the delivery is committed.
		var found int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM messages WHERE id = ANY($1) FOR KEY SHARE) m`,
			msgIDs).Scan(&found); err != nil {
			return err
		}
		if found < len(msgIDs) {
			return hookd.Errorf(hookd.ENOTFOUND, "message not found")
		}
		tag, err := tx.Exec(ctx, deliveriesInsert, deliveryArrays(deliveries, nil)...)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		return s.notify(ctx, tx)
	})
	switch {
	case hookd.IsNotFound(err):
		return 0, err
	case err != nil:
		return 0, storeErr(err, "create deliveries", "a delivery with this id already exists")
	}
	if n > 0 {
		s.signal()
	}
	return int(n), nil
}

// ResendDelivery makes the (message, endpoint) delivery due at now with a manual
// trigger, creating it with ID id if needed. It takes a new lease number, so a worker
// still sending the delivery cannot overwrite the resend with its result.
func (s *Store) ResendDelivery(ctx context.Context, id, appID, msgID, endpointID string, now time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The message's row lock orders a resend against a payload purge (PurgePayloads
		// locks the messages it clears): one of them sees the other's commit.
		var payloadLen int
		err := tx.QueryRow(ctx, `SELECT length(payload) FROM messages WHERE app_id = $1 AND id = $2 FOR SHARE`,
			appID, msgID).Scan(&payloadLen)
		if errors.Is(err, pgx.ErrNoRows) {
			return hookd.Errorf(hookd.ENOTFOUND, "message not found")
		}
		if err != nil {
			return err
		}
		if payloadLen == 0 {
			return hookd.PayloadExpiredError()
		}
		if err := requireEndpoint(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts,
				next_attempt, trigger, lease, created_at, updated_at, fifo_key)
			VALUES ($1, $2, $3, $4, $5, 0, $6, $7, nextval('delivery_lease'), $6, $6,
				(SELECT CASE WHEN e.fifo THEN m.ordering_key END FROM endpoints e, messages m
					WHERE e.id = $4 AND m.id = $3))
			ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET status = $5, attempts = 0, next_attempt = $6,
				trigger = $7, lease = nextval('delivery_lease'), updated_at = $6, fifo_hold = false,
				-- A done ordered delivery goes to the end of its key's queue (requeueOrdered
				-- says why); a pending, sending or held one keeps its place.
				fifo_seq = CASE WHEN deliveries.fifo_key IS NOT NULL AND deliveries.status IN (0, 2) AND NOT deliveries.fifo_hold
					THEN nextval('delivery_fifo_seq') ELSE deliveries.fifo_seq END`,
			id, appID, msgID, endpointID, hookd.StatusPending, now, hookd.TriggerManual)
		if err != nil {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		if hookd.IsNotFound(err) || hookd.ErrorCode(err) == hookd.EPAYLOADEXPIRED {
			return err
		}
		return fmt.Errorf("resend delivery: %w", err)
	}
	s.signal()
	return nil
}

// RecoverDeliveries makes the endpoint's failed deliveries of messages accepted in
// [since, until) due at now with a manual trigger. Ordered ones that were not held
// first take new places at the end of their keys' queues, in their old order
// (requeueOrdered).
func (s *Store) RecoverDeliveries(ctx context.Context, appID, endpointID string, since, until, now time.Time) (int, error) {
	// failed adds the conditions of the deliveries recovered.
	failed := func(w *where) {
		w.add("d.app_id = ?", appID)
		w.add("d.endpoint_id = ?", endpointID)
		w.add("d.status = ?", hookd.StatusFail)
		w.add("m.id = d.msg_id")
		w.add("m.payload <> ''::bytea")
		w.add("m.timestamp >= ?", since)
		if !until.IsZero() {
			w.add("m.timestamp < ?", until)
		}
	}
	n, err := s.updateAnnounced(ctx, appID, endpointID, func(tx pgx.Tx) (int64, error) {
		var moved where
		failed(&moved)
		moved.add("d.fifo_key IS NOT NULL AND NOT d.fifo_hold")
		rows, err := tx.Query(ctx, `SELECT d.msg_id FROM deliveries d, messages m`+moved.String()+`
			ORDER BY d.fifo_seq FOR UPDATE OF d`, moved.args...)
		if err != nil {
			return 0, err
		}
		msgIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, err
		}
		if err := requeueOrdered(ctx, tx, endpointID, msgIDs); err != nil {
			return 0, err
		}
		// $1…$3 are the new values; the conditions number their parameters after them.
		w := where{args: []any{hookd.StatusPending, now, hookd.TriggerManual}}
		failed(&w)
		tag, err := tx.Exec(ctx, `UPDATE deliveries d SET status = $1, attempts = 0, next_attempt = $2,
			trigger = $3, lease = nextval('delivery_lease'), updated_at = $2, fifo_hold = false
			FROM messages m`+w.String(), w.args...)
		return tag.RowsAffected(), err
	})
	if err != nil {
		if hookd.IsNotFound(err) {
			return 0, err
		}
		return 0, fmt.Errorf("recover deliveries: %w", err)
	}
	return int(n), nil
}

// requeueOrdered gives the endpoint's ordered deliveries of msgIDs new places at the
// end of their keys' queues, in the order given: new fifo_seq values, taken from the
// sequence and handed out in increasing order. A delivery that is done (succeeded,
// or failed without holding its key) and comes back would otherwise keep its old
// place, before its key's current head, and be claimed while that head is still out.
func requeueOrdered(ctx context.Context, tx pgx.Tx, endpointID string, msgIDs []string) error {
	if len(msgIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT nextval('delivery_fifo_seq') FROM generate_series(1, $1)`, len(msgIDs))
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	slices.Sort(seqs)
	_, err = tx.Exec(ctx, `UPDATE deliveries d SET fifo_seq = r.seq FROM unnest($1::text[], $2::bigint[]) AS r(msg_id, seq)
		WHERE d.msg_id = r.msg_id AND d.endpoint_id = $3`, msgIDs, seqs, endpointID)
	return err
}

// requireEndpoint answers ENOTFOUND unless the endpoint belongs to appID.
func requireEndpoint(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, appID, endpointID string) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = $1 AND id = $2)`,
		appID, endpointID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return hookd.Errorf(hookd.ENOTFOUND, "endpoint not found")
	}
	return nil
}

// updateAnnounced runs update in one transaction, after checking that the endpoint
// belongs to appID (else ENOTFOUND). When update reports rows changed, the
// transaction announces new work to every node (pg_notify) and, once it commits, this
// node's dispatcher is woken. It returns how many rows changed.
func (s *Store) updateAnnounced(ctx context.Context, appID, endpointID string, update func(tx pgx.Tx) (int64, error)) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := requireEndpoint(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		var err error
		if n, err = update(tx); err != nil || n == 0 {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.signal()
	}
	return n, nil
}

// MessageDeliveries returns the deliveries of one message, by endpoint ID.
func (s *Store) MessageDeliveries(ctx context.Context, appID, msgID string, page hookd.Page) ([]*hookd.Delivery, error) {
	var w where
	w.add("d.app_id = ?", appID)
	w.add("d.msg_id = ?", msgID)
	order := w.page("d.endpoint_id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list message deliveries: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("list message deliveries: %w", err)
	}
	return ds, nil
}

// EndpointDeliveries returns the deliveries to one endpoint with their message, by
// message ID.
func (s *Store) EndpointDeliveries(ctx context.Context, appID, endpointID string, filter hookd.DeliveryFilter, page hookd.Page) ([]*hookd.Delivery, error) {
	var w where
	w.add("d.app_id = ?", appID)
	w.add("d.endpoint_id = ?", endpointID)
	if filter.Status != nil {
		w.add("d.status = ?", *filter.Status)
	}
	messageFilter(&w, hookd.MessageFilter{EventTypes: filter.EventTypes, Channel: filter.Channel, Tag: filter.Tag,
		Before: filter.Before, After: filter.After})
	order := w.page("d.msg_id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+`, `+messageColumns+`
		FROM deliveries d JOIN messages m ON m.id = d.msg_id`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list endpoint deliveries: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Delivery, error) { return scanDeliveryMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("list endpoint deliveries: %w", err)
	}
	return ds, nil
}

// DeliveryCounts counts every delivery of the server by status.
func (s *Store) DeliveryCounts(ctx context.Context) (hookd.EndpointStats, error) {
	return s.countDeliveries(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
}

func deliveryDest(d *hookd.Delivery) []any {
	return []any{&d.ID, &d.AppID, &d.MsgID, &d.EndpointID, &d.Status, &d.Attempts, &d.NextAttempt,
		&d.Trigger, &d.Lease, &d.CreatedAt, &d.UpdatedAt, fifoKeyDest{d}, &d.Held}
}

// fifoKeyDest scans a fifo_key into Ordered and OrderingKey.
type fifoKeyDest struct{ d *hookd.Delivery }

func (x fifoKeyDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		x.d.Ordered, x.d.OrderingKey = false, ""
	case string:
		x.d.Ordered, x.d.OrderingKey = true, v
	default:
		return fmt.Errorf("fifo_key: unexpected %T", src)
	}
	return nil
}

func scanDelivery(row pgx.Row) (*hookd.Delivery, error) {
	var d hookd.Delivery
	if err := row.Scan(deliveryDest(&d)...); err != nil {
		return nil, err
	}
	return &d, nil
}

// scanDeliveryMessage scans deliveryColumns followed by messageColumns.
func scanDeliveryMessage(row pgx.Row) (*hookd.Delivery, error) {
	var d hookd.Delivery
	var m hookd.Message
	var payload []byte
	dest := append(deliveryDest(&d), &m.ID, &m.AppID, &m.EventType, &m.EventID, &payload, &m.Channels, &m.Tags, &m.Timestamp,
		&m.OrderingKey)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.Payload = payload
	d.Message = &m
	return &d, nil
}

// ReleaseFIFO clears the hold of the endpoint's held deliveries (of one key, if key
// is set) and announces the work it frees.
func (s *Store) ReleaseFIFO(ctx context.Context, appID, endpointID string, key *string) (int, error) {
	n, err := s.updateAnnounced(ctx, appID, endpointID, func(tx pgx.Tx) (int64, error) {
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET fifo_hold = false
			WHERE app_id = $1 AND endpoint_id = $2 AND fifo_hold AND ($3::text IS NULL OR fifo_key = $3)`,
			appID, endpointID, key)
		return tag.RowsAffected(), err
	})
	if err != nil {
		if hookd.IsNotFound(err) {
			return 0, err
		}
		return 0, fmt.Errorf("release fifo: %w", err)
	}
	return int(n), nil
}

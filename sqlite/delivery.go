package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

const deliveryColumns = `id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, trigger,
	lease, created_at, updated_at, fifo_key, fifo_hold`

const deliveryColumnsD = `d.id, d.app_id, d.msg_id, d.endpoint_id, d.status, d.attempts,
	d.next_attempt, d.trigger, d.lease, d.created_at, d.updated_at, d.fifo_key, d.fifo_hold`

// deliveryDest holds the scan targets of one delivery row.
type deliveryDest struct {
	d                      hookd.Delivery
	next, created, updated int64
	fifoKey                sql.NullString
	hold                   int
}

func (x *deliveryDest) targets() []any {
	d := &x.d
	return []any{&d.ID, &d.AppID, &d.MsgID, &d.EndpointID, &d.Status, &d.Attempts, &x.next,
		&d.Trigger, &d.Lease, &x.created, &x.updated, &x.fifoKey, &x.hold}
}

func (x *deliveryDest) delivery() *hookd.Delivery {
	d := x.d
	d.NextAttempt, d.CreatedAt, d.UpdatedAt = fromTS(x.next), fromTS(x.created), fromTS(x.updated)
	d.Ordered, d.OrderingKey, d.Held = x.fifoKey.Valid, x.fifoKey.String, x.hold != 0
	return &d
}

func scanDelivery(sc scanner) (*hookd.Delivery, error) {
	var x deliveryDest
	if err := sc.Scan(x.targets()...); err != nil {
		return nil, err
	}
	return x.delivery(), nil
}

// scanDeliveryMessage scans deliveryColumnsD followed by messageColumnsM.
func scanDeliveryMessage(sc scanner) (*hookd.Delivery, error) {
	var x deliveryDest
	var m messageDest
	if err := sc.Scan(append(x.targets(), m.targets()...)...); err != nil {
		return nil, err
	}
	d := x.delivery()
	var err error
	if d.Message, err = m.message(); err != nil {
		return nil, err
	}
	return d, nil
}

const insertDeliverySQL = `INSERT INTO deliveries (` + deliveryColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func deliveryArgs(d *hookd.Delivery) []any {
	return []any{d.ID, d.AppID, d.MsgID, d.EndpointID, int(d.Status), d.Attempts, ts(d.NextAttempt),
		int(d.Trigger), d.Lease, ts(d.CreatedAt), ts(d.UpdatedAt), fifoKey(d), boolInt(d.Held)}
}

// fifoKey is the fifo_key of a delivery: NULL unless it is ordered.
func fifoKey(d *hookd.Delivery) any {
	if !d.Ordered {
		return nil
	}
	return d.OrderingKey
}

func insertDelivery(tx *wtx, d *hookd.Delivery) error {
	_, err := tx.exec(insertDeliverySQL, deliveryArgs(d)...)
	return err
}

// maxRowsPerInsert bounds the rows of one multi-row INSERT (13 parameters each), and
// so the number of statement shapes prepared.
const maxRowsPerInsert = 32

// insertDeliveriesSQL[n] inserts n deliveries in one statement.
var insertDeliveriesSQL = func() [maxRowsPerInsert + 1]string {
	var out [maxRowsPerInsert + 1]string
	row := `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	for n := 1; n <= maxRowsPerInsert; n++ {
		out[n] = `INSERT INTO deliveries (` + deliveryColumns + `) VALUES ` + row + strings.Repeat(", "+row, n-1)
	}
	return out
}()

// insertDeliveries inserts ds with one statement per maxRowsPerInsert rows: a fan-out
// to many endpoints costs a few statements rather than one per endpoint. A statement
// that fails changes nothing, and is then replayed row by row so that the error
// names the delivery that caused it (see failedDelivery).
func insertDeliveries(tx *wtx, ds []*hookd.Delivery) error {
	args := make([]any, 0, 13*min(len(ds), maxRowsPerInsert))
	for len(ds) > 0 {
		chunk := ds[:min(len(ds), maxRowsPerInsert)]
		ds = ds[len(chunk):]
		args = args[:0]
		for _, d := range chunk {
			args = append(args, d.ID, d.AppID, d.MsgID, d.EndpointID, int(d.Status), d.Attempts, ts(d.NextAttempt),
				int(d.Trigger), d.Lease, ts(d.CreatedAt), ts(d.UpdatedAt), fifoKey(d), boolInt(d.Held))
		}
		if _, err := tx.exec(insertDeliveriesSQL[len(chunk)], args...); err != nil {
			return failedDelivery(tx, chunk, err)
		}
	}
	return nil
}

// failedDelivery inserts chunk row by row after its multi-row INSERT failed with err,
// and returns the first row's error with that row, or err.
func failedDelivery(tx *wtx, chunk []*hookd.Delivery, err error) error {
	if len(chunk) == 1 {
		return &deliveryError{d: chunk[0], err: err}
	}
	for _, d := range chunk {
		if e := insertDelivery(tx, d); e != nil {
			return &deliveryError{d: d, err: e}
		}
	}
	return err
}

// deliveryError is an insert error with the delivery that caused it.
type deliveryError struct {
	d   *hookd.Delivery
	err error
}

func (e *deliveryError) Error() string { return e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

// nextHeadSQL reads the head of the first ordering key's queue after the key
// (endpoint_id, fifo_key) given: the earliest ordered delivery (smallest rowid) of
// that key that is pending, sending or held. Asked key after key it is a loose index
// scan of deliveries_fifo, one probe per key, so the deliveries waiting behind their
// heads are never read. The conditions are deliveries_fifo's, so the index answers
// them.
var nextHeadSQL = `SELECT rowid, endpoint_id, fifo_key, status, next_attempt, fifo_hold FROM deliveries
	INDEXED BY deliveries_fifo
	WHERE fifo_key IS NOT NULL AND (status IN ` + dueStatuses + ` OR fifo_hold = 1) AND (endpoint_id, fifo_key) > (?, ?)
	ORDER BY endpoint_id, fifo_key, rowid LIMIT 1`

// keyHeadSQL reads the head of one key's queue, as nextHeadSQL does.
var keyHeadSQL = `SELECT rowid, endpoint_id, fifo_key, status, next_attempt, fifo_hold FROM deliveries
	INDEXED BY deliveries_fifo
	WHERE fifo_key IS NOT NULL AND (status IN ` + dueStatuses + ` OR fifo_hold = 1) AND endpoint_id = ? AND fifo_key = ?
	ORDER BY rowid LIMIT 1`

// fifoHead is the head of an ordering key's queue.
type fifoHead struct {
	rowid        int64
	key          hookd.FIFOKey
	status, hold int
	next         int64
}

// due reports whether the claim rule lets the head go at now: it is pending or
// sending, due and not held.
func (h *fifoHead) due(now int64) bool {
	return (h.status == int(hookd.StatusPending) || h.status == int(hookd.StatusSending)) && h.next <= now && h.hold == 0
}

// readHead reads one head with query (nextHeadSQL or keyHeadSQL) and args; nil when
// there is none.
func readHead(queryRow func(string, ...any) *row, query string, args ...any) (*fifoHead, error) {
	var h fifoHead
	err := queryRow(query, args...).Scan(&h.rowid, &h.key.EndpointID, &h.key.OrderingKey, &h.status, &h.next, &h.hold)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// eachHead calls fn with the head of every ordering key's queue, in key order, until
// fn returns false.
func eachHead(queryRow func(string, ...any) *row, fn func(*fifoHead) bool) error {
	var after hookd.FIFOKey // endpoint IDs are never empty: before every key
	for {
		h, err := readHead(queryRow, nextHeadSQL, after.EndpointID, after.OrderingKey)
		if err != nil || h == nil {
			return err
		}
		if !fn(h) {
			return nil
		}
		after = h.key
	}
}

// candidate is a delivery a claim may lease.
type candidate struct{ rowid, next int64 }

// ClaimDeliveries leases up to limit due deliveries, oldest due first: unordered ones
// from deliveries_due_unordered (named: the planner, without statistics, would read
// every pending delivery through deliveries_status_msg) and ordered ones only at the head of their key
// (eachHead), up to limit of each before the earliest limit of them all are taken.
// The lease is a per-delivery counter incremented at every claim.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*hookd.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []*hookd.Delivery
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		at := ts(now)
		var cands []candidate
		err := eachHead(tx.queryRow, func(h *fifoHead) bool {
			if h.due(at) {
				cands = append(cands, candidate{h.rowid, h.next})
			}
			return len(cands) < limit
		})
		if err != nil {
			return false, err
		}
		rows, err := tx.query(`SELECT rowid, next_attempt FROM deliveries INDEXED BY deliveries_due_unordered
			WHERE status IN `+dueStatuses+` AND next_attempt <= ? AND fifo_key IS NULL
			ORDER BY next_attempt LIMIT ?`, at, limit)
		if err != nil {
			return false, err
		}
		for rows.Next() {
			var c candidate
			if err := rows.Scan(&c.rowid, &c.next); err != nil {
				rows.Close()
				return false, err
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		slices.SortFunc(cands, func(a, b candidate) int { return cmp.Or(cmp.Compare(a.next, b.next), cmp.Compare(a.rowid, b.rowid)) })
		out, err = leaseRows(tx, cands[:min(len(cands), limit)], now, lease)
		return false, err
	})
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	return out, nil
}

// ClaimFIFOHeads leases the due head of each of the keys (keyHeadSQL, one probe a
// key).
func (s *Store) ClaimFIFOHeads(ctx context.Context, now time.Time, lease time.Duration, keys []hookd.FIFOKey) ([]*hookd.Delivery, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var out []*hookd.Delivery
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		at := ts(now)
		var cands []candidate
		seen := make(map[hookd.FIFOKey]bool, len(keys))
		for _, k := range keys {
			if seen[k] {
				continue
			}
			seen[k] = true
			h, err := readHead(tx.queryRow, keyHeadSQL, k.EndpointID, k.OrderingKey)
			if err != nil {
				return false, err
			}
			if h != nil && h.due(at) {
				cands = append(cands, candidate{h.rowid, h.next})
			}
		}
		var err error
		out, err = leaseRows(tx, cands, now, lease)
		return false, err
	})
	if err != nil {
		return nil, wrap("claim fifo heads", err)
	}
	return out, nil
}

// leaseRows leases the candidate deliveries, in the given order, and returns them
// with their messages.
//
// The deliveries are read first and their messages afterwards, once each: a
// message's fan-out is usually due, and so claimed, together, and its payload is then
// read and held once rather than once per endpoint.
func leaseRows(tx *wtx, cands []candidate, now time.Time, lease time.Duration) ([]*hookd.Delivery, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	rowids := make([]int64, len(cands))
	for i, c := range cands {
		rowids[i] = c.rowid
	}
	list, err := json.Marshal(rowids)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query(`SELECT d.rowid, `+deliveryColumnsD+` FROM deliveries d
		WHERE d.rowid IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, err
	}
	byRow := make(map[int64]*hookd.Delivery, len(cands))
	var msgIDs []string
	seen := make(map[string]bool)
	for rows.Next() {
		var rowid int64
		var x deliveryDest
		if err := rows.Scan(append([]any{&rowid}, x.targets()...)...); err != nil {
			rows.Close()
			return nil, err
		}
		d := x.delivery()
		byRow[rowid] = d
		if !seen[d.MsgID] {
			seen[d.MsgID] = true
			msgIDs = append(msgIDs, d.MsgID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	msgs, err := messagesByID(tx, msgIDs)
	if err != nil {
		return nil, err
	}
	// Deliveries go with their message (ON DELETE CASCADE); one without would be
	// a broken row, not work: it is left alone, as a join would leave it.
	kept := rowids[:0]
	for _, rowid := range rowids {
		if d := byRow[rowid]; d != nil && msgs[d.MsgID] != nil {
			d.Message = msgs[d.MsgID]
			kept = append(kept, rowid)
		}
	}
	if rowids = kept; len(rowids) == 0 {
		return nil, nil
	}

	// One statement leases them all; their rowids travel as one JSON array.
	if list, err = json.Marshal(rowids); err != nil {
		return nil, err
	}
	until := now.Add(lease)
	rows, err = tx.query(`UPDATE deliveries SET status = `+statusSending+`, next_attempt = ?, lease = lease + 1,
		updated_at = ? WHERE rowid IN (SELECT value FROM json_each(?)) RETURNING rowid, lease`,
		ts(until), ts(now), string(list))
	if err != nil {
		return nil, err
	}
	n := 0
	for rows.Next() {
		var rowid, l int64
		if err := rows.Scan(&rowid, &l); err != nil {
			rows.Close()
			return nil, err
		}
		if d := byRow[rowid]; d != nil {
			d.Lease = l
			n++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n != len(rowids) {
		return nil, fmt.Errorf("leased %d of %d deliveries", n, len(rowids))
	}
	out := make([]*hookd.Delivery, 0, len(rowids))
	for _, rowid := range rowids {
		d := byRow[rowid]
		d.Status = hookd.StatusSending
		d.NextAttempt = fromTS(ts(until))
		d.UpdatedAt = fromTS(ts(now))
		out = append(out, d)
	}
	return out, nil
}

// messagesByID reads the messages with the given IDs, by ID.
func messagesByID(tx *wtx, ids []string) (map[string]*hookd.Message, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query(`SELECT `+messageColumns+` FROM messages WHERE id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*hookd.Message, len(ids))
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out[m.ID] = m
	}
	return out, rows.Err()
}

// RecordAttempts inserts the attempts and applies each result where the lease holds
// (see hookd.DeliveryStore.RecordAttempts for the rules).
func (s *Store) RecordAttempts(ctx context.Context, results []hookd.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	attempts := make([]*hookd.Attempt, 0, len(results))
	for _, r := range results {
		if a := r.KeyedAttempt(); a != nil {
			attempts = append(attempts, a)
		}
	}
	health := hookd.EndpointHealth(attempts)
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		inserted, err := insertAttempts(tx, attempts)
		if err != nil {
			return false, err
		}
		if err := applyResults(tx, results); err != nil {
			return false, err
		}
		if err := addAttemptCounts(tx, inserted); err != nil {
			return false, err
		}
		return false, updateFailingSince(tx, health)
	})
	return wrap("record attempts", err)
}

// applyResultsSQL[n] applies n results, each where its lease still holds, in one
// statement.
var applyResultsSQL = func() [maxRowsPerInsert + 1]string {
	var out [maxRowsPerInsert + 1]string
	row := `(?, ?, ?, ?, ?, ?, ?, ?)`
	for n := 1; n <= maxRowsPerInsert; n++ {
		out[n] = `WITH r (msg_id, endpoint_id, lease, status, next_attempt, attempts, updated_at, hold) AS (VALUES ` + row +
			strings.Repeat(", "+row, n-1) + `)
			UPDATE deliveries SET status = r.status, next_attempt = r.next_attempt, attempts = r.attempts,
				trigger = ` + triggerScheduled + `, updated_at = r.updated_at, fifo_hold = r.hold
			FROM r WHERE deliveries.msg_id = r.msg_id AND deliveries.endpoint_id = r.endpoint_id
				AND deliveries.lease = r.lease`
	}
	return out
}()

// applyResults sets the deliveries' new state, maxRowsPerInsert results a statement.
// Results for one delivery appear at most once in a batch (one claim, one attempt).
func applyResults(tx *wtx, results []hookd.AttemptResult) error {
	args := make([]any, 0, 8*min(len(results), maxRowsPerInsert))
	for len(results) > 0 {
		chunk := results[:min(len(results), maxRowsPerInsert)]
		results = results[len(chunk):]
		args = args[:0]
		for _, r := range chunk {
			var at int64
			if r.Attempt != nil {
				at = ts(r.Attempt.Timestamp)
			}
			args = append(args, r.Delivery.MsgID, r.Delivery.EndpointID, r.Delivery.Lease, int(r.Status),
				ts(r.NextAttempt), r.Attempts, at, boolInt(r.Hold))
		}
		if _, err := tx.exec(applyResultsSQL[len(chunk)], args...); err != nil {
			return err
		}
	}
	return nil
}

// updateFailingSince writes the endpoints' health changes. Each statement writes only
// when the value changes, so a healthy endpoint's row is not rewritten at every
// success.
func updateFailingSince(tx *wtx, health []hookd.HealthChange) error {
	for _, h := range health {
		var err error
		switch {
		case h.Healthy:
			_, err = tx.exec(`UPDATE endpoints SET failing_since = NULL
				WHERE id = ? AND failing_since IS NOT NULL`, h.EndpointID)
		case h.Reset:
			_, err = tx.exec(`UPDATE endpoints SET failing_since = ?1
				WHERE id = ?2 AND failing_since IS NOT ?1`, ts(h.Since), h.EndpointID)
		default:
			_, err = tx.exec(`UPDATE endpoints SET failing_since = ?
				WHERE id = ? AND failing_since IS NULL`, ts(h.Since), h.EndpointID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// PostponeDeliveries returns claimed deliveries to pending, due at until.
func (s *Store) PostponeDeliveries(ctx context.Context, deliveries []*hookd.Delivery, until time.Time) error {
	if len(deliveries) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n := int64(0)
		for _, d := range deliveries {
			k, err := tx.affected(`UPDATE deliveries SET status = `+statusPending+`, next_attempt = ?
				WHERE msg_id = ? AND endpoint_id = ? AND lease = ?`, ts(until), d.MsgID, d.EndpointID, d.Lease)
			if err != nil {
				return false, err
			}
			n += k
		}
		return n > 0, nil
	})
	return wrap("postpone deliveries", err)
}

// NextDue returns the earliest NextAttempt of any pending or sending unordered
// delivery or ordering key's head that is not held.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := s.queryRow(ctx, `SELECT min(next_attempt) FROM deliveries INDEXED BY deliveries_due_unordered
		WHERE status IN `+dueStatuses+` AND fifo_key IS NULL`).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	read := func(q string, args ...any) *row { return s.queryRow(ctx, q, args...) }
	err := eachHead(read, func(h *fifoHead) bool {
		if h.due(math.MaxInt64) && (!v.Valid || h.next < v.Int64) {
			v = sql.NullInt64{Int64: h.next, Valid: true}
		}
		return true
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return fromTS(v.Int64), true, nil
}

// CreateDeliveries inserts deliveries, skipping (message, endpoint) pairs that exist.
func (s *Store) CreateDeliveries(ctx context.Context, deliveries []*hookd.Delivery) (int, error) {
	if len(deliveries) == 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n = 0
		for _, d := range deliveries {
			// Deliveries have no foreign key to messages: a purged message takes none.
			if ok, err := tx.exists(`SELECT count(*) FROM messages WHERE id = ?`, d.MsgID); err != nil {
				return false, err
			} else if !ok {
				return false, notFound("message")
			}
			k, err := tx.affected(insertDeliverySQL+` ON CONFLICT (msg_id, endpoint_id) DO NOTHING`, deliveryArgs(d)...)
			if err != nil {
				if isForeignKey(err) {
					return false, notFound("message or endpoint")
				}
				if isUnique(err) {
					return false, hookd.Errorf(hookd.ECONFLICT, "delivery %s already exists", d.ID)
				}
				return false, err
			}
			n += k
		}
		return n > 0, nil
	})
	if err != nil {
		return 0, wrap("create deliveries", err)
	}
	return int(n), nil
}

// exists reports whether query (a count) finds a row, inside the writer transaction.
// requireEndpoint answers ENOTFOUND unless the endpoint belongs to appID.
func (tx *wtx) requireEndpoint(appID, endpointID string) error {
	ok, err := tx.exists(`SELECT count(*) FROM endpoints WHERE app_id = ? AND id = ?`, appID, endpointID)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("endpoint")
	}
	return nil
}

func (tx *wtx) exists(query string, args ...any) (bool, error) {
	var n int
	if err := tx.queryRow(query, args...).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// ResendDelivery makes the (message, endpoint) delivery due at now with a manual
// trigger, creating it with ID id if needed. An existing delivery's lease is bumped
// so an attempt in flight cannot overwrite the resend.
func (s *Store) ResendDelivery(ctx context.Context, id, appID, msgID, endpointID string, now time.Time) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var payloadLen int
		err := tx.queryRow(`SELECT length(payload) FROM messages WHERE app_id = ? AND id = ?`, appID, msgID).Scan(&payloadLen)
		if errors.Is(err, sql.ErrNoRows) {
			return false, notFound("message")
		}
		if err != nil {
			return false, err
		}
		if payloadLen == 0 {
			return false, hookd.PayloadExpiredError()
		}
		if err := tx.requireEndpoint(appID, endpointID); err != nil {
			return false, err
		}
		// A done ordered delivery goes to the end of its key's queue (requeueOrdered
		// says why); a pending, sending or held one keeps its place.
		var rowid int64
		err = tx.queryRow(`SELECT rowid FROM deliveries WHERE msg_id = ? AND endpoint_id = ?
			AND fifo_key IS NOT NULL AND status IN (`+statusSuccess+`, `+statusFail+`) AND fifo_hold = 0`,
			msgID, endpointID).Scan(&rowid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return false, err
		default:
			if err := requeueOrdered(tx, []int64{rowid}); err != nil {
				return false, err
			}
		}
		_, err = tx.exec(`INSERT INTO deliveries (`+deliveryColumns+`)
			VALUES (?1, ?2, ?3, ?4, `+statusPending+`, 0, ?5, `+triggerManual+`, 0, ?5, ?5,
				(SELECT CASE WHEN e.fifo = 1 THEN m.ordering_key END FROM endpoints e, messages m
					WHERE e.id = ?4 AND m.id = ?3), 0)
			ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET status = `+statusPending+`, attempts = 0,
				next_attempt = ?5, trigger = `+triggerManual+`, lease = lease + 1, updated_at = ?5, fifo_hold = 0`,
			id, appID, msgID, endpointID, ts(now))
		return err == nil, err
	})
	return wrap("resend delivery", err)
}

// RecoverDeliveries makes the endpoint's failed deliveries of messages accepted in
// [since, until) due at now with a manual trigger. Ordered ones that were not held
// first take new places at the end of their keys' queues, in their old order
// (requeueOrdered).
func (s *Store) RecoverDeliveries(ctx context.Context, appID, endpointID string, since, until, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		if err := tx.requireEndpoint(appID, endpointID); err != nil {
			return false, err
		}
		upper := int64(1<<63 - 1)
		if !until.IsZero() {
			upper = ts(until)
		}
		failed := `app_id = ?2 AND endpoint_id = ?3 AND status = ` + statusFail + ` AND msg_id IN (
				SELECT id FROM messages WHERE app_id = ?2 AND timestamp >= ?4 AND timestamp < ?5 AND payload <> '')`
		rows, err := tx.query(`SELECT rowid FROM deliveries WHERE `+failed+`
			AND fifo_key IS NOT NULL AND fifo_hold = 0 ORDER BY rowid`, ts(now), appID, endpointID, ts(since), upper)
		if err != nil {
			return false, err
		}
		var moved []int64
		for rows.Next() {
			var rowid int64
			if err := rows.Scan(&rowid); err != nil {
				rows.Close()
				return false, err
			}
			moved = append(moved, rowid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		if err := requeueOrdered(tx, moved); err != nil {
			return false, err
		}
		n, err = tx.affected(`UPDATE deliveries SET status = `+statusPending+`, attempts = 0, next_attempt = ?1,
			trigger = `+triggerManual+`, lease = lease + 1, updated_at = ?1, fifo_hold = 0
			WHERE `+failed, ts(now), appID, endpointID, ts(since), upper)
		return n > 0, err
	})
	if err != nil {
		return 0, wrap("recover deliveries", err)
	}
	return int(n), nil
}

// requeueOrdered gives the ordered deliveries rowids new places at the end of their
// keys' queues, in the order given: new rowids, past the largest. A delivery that is
// done (succeeded, or failed without holding its key) and comes back would otherwise
// keep its old place, before its key's current head, and be claimed while that head
// is still out.
func requeueOrdered(tx *wtx, rowids []int64) error {
	for _, rowid := range rowids {
		if _, err := tx.exec(`UPDATE deliveries SET rowid = (SELECT max(rowid) FROM deliveries) + 1 WHERE rowid = ?`, rowid); err != nil {
			return err
		}
	}
	return nil
}

// MessageDeliveries returns the deliveries of one message, by endpoint ID.
func (s *Store) MessageDeliveries(ctx context.Context, appID, msgID string, page hookd.Page) ([]*hookd.Delivery, error) {
	cond, tail, args := pageSQL("endpoint_id", page, []any{msgID, appID})
	out, err := list(ctx, s, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE msg_id = ? AND app_id = ?`+cond+tail, args, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("message deliveries: %w", err)
	}
	return out, nil
}

// EndpointDeliveries returns the deliveries to one endpoint with their message, by
// message ID. Before and After are exclusive bounds on the message's Timestamp.
func (s *Store) EndpointDeliveries(ctx context.Context, appID, endpointID string, filter hookd.DeliveryFilter, page hookd.Page) ([]*hookd.Delivery, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + deliveryColumnsD + `, ` + messageColumnsM + `
		FROM deliveries d JOIN messages m ON m.id = d.msg_id
		WHERE d.endpoint_id = ? AND d.app_id = ?`)
	args := []any{endpointID, appID}
	if filter.Status != nil {
		b.WriteString(` AND d.status = ?`)
		args = append(args, int(*filter.Status))
	}
	args = messageFilterSQL(&b, args, filter.EventTypes, filter.Channel, filter.Tag,
		boundTS(filter.Before), boundTS(filter.After))
	cond, tail, args := pageSQL("d.msg_id", page, args)
	b.WriteString(cond + tail)
	out, err := list(ctx, s, b.String(), args, scanDeliveryMessage)
	if err != nil {
		return nil, fmt.Errorf("endpoint deliveries: %w", err)
	}
	return out, nil
}

// DeliveryCounts counts all deliveries by status.
func (s *Store) DeliveryCounts(ctx context.Context) (hookd.EndpointStats, error) {
	st, err := s.countStatuses(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("delivery counts: %w", err)
	}
	return st, nil
}

// ReleaseFIFO clears the hold of the endpoint's held deliveries (of one key, if key
// is set).
func (s *Store) ReleaseFIFO(ctx context.Context, appID, endpointID string, key *string) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		if err := tx.requireEndpoint(appID, endpointID); err != nil {
			return false, err
		}
		q := `UPDATE deliveries SET fifo_hold = 0 WHERE app_id = ? AND endpoint_id = ? AND fifo_hold = 1`
		args := []any{appID, endpointID}
		if key != nil {
			q += ` AND fifo_key = ?`
			args = append(args, *key)
		}
		var err error
		n, err = tx.affected(q, args...)
		return n > 0, err
	})
	if err != nil {
		return 0, wrap("release fifo", err)
	}
	return int(n), nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const messageColumns = `m.id, m.app_id, m.event_type, coalesce(m.event_id, ''), m.payload, m.channels, m.tags, m.timestamp,
	m.ordering_key`

// deliveriesInsert inserts deliveries given as arrays, in array order (fifo_seq
// follows it), skipping (message, endpoint) pairs that already have one and those
// whose message does not exist (there is no foreign key: see migration 0018); with
// onlyMsg set ($12), only if that message exists.
const deliveriesInsert = newDeliveriesInsert + `
	ON CONFLICT (msg_id, endpoint_id) DO NOTHING`

// newDeliveriesInsert is deliveriesInsert for the deliveries of a message being
// inserted, which has none yet: two to one endpoint fail the insert (the call is
// wrong) instead of one being skipped. Delivery IDs have no unique index (deliveries
// are partitioned by message ID; a delivery is found by message and endpoint).
const newDeliveriesInsert = `INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts,
		next_attempt, trigger, created_at, updated_at, fifo_key)
	SELECT r.id, r.app_id, r.msg_id, r.endpoint_id, r.status, r.attempts, r.next_attempt, r.trigger,
		r.created_at, r.updated_at, r.fifo_key
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::integer[],
		$7::timestamptz[], $8::smallint[], $9::timestamptz[], $10::timestamptz[], $11::text[])
		WITH ORDINALITY AS r(id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, trigger,
			created_at, updated_at, fifo_key, n)
	WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = coalesce($12::text, r.msg_id))
	ORDER BY r.n`

// deliveryArrays returns the parameters of deliveriesInsert: eleven arrays and
// onlyMsg.
func deliveryArrays(ds []*hookd.Delivery, onlyMsg *string) []any {
	n := len(ds)
	var (
		ids, apps, msgs, eps = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		statuses, triggers   = make([]int16, n), make([]int16, n)
		attempts             = make([]int32, n)
		next, created, upd   = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		keys                 = make([]*string, n)
	)
	for i, d := range ds {
		ids[i], apps[i], msgs[i], eps[i] = d.ID, d.AppID, d.MsgID, d.EndpointID
		statuses[i], triggers[i], attempts[i] = int16(d.Status), int16(d.Trigger), int32(d.Attempts)
		next[i], created[i], upd[i] = d.NextAttempt, d.CreatedAt, d.UpdatedAt
		if d.Ordered {
			keys[i] = &d.OrderingKey
		}
	}
	return []any{ids, apps, msgs, eps, statuses, attempts, next, triggers, created, upd, keys, onlyMsg}
}

// Message returns the application's message whose ID or EventID is idOrEventID.
func (s *Store) Message(ctx context.Context, appID, idOrEventID string) (*hookd.Message, error) {
	// The ID first, then the eventId, each looked up by itself (OFFSET 0 keeps
	// app_id out of the index choice). Written as one condition with OR, or with
	// app_id beside it, the planner, which knows nothing of an application newer than
	// its statistics, takes it for a small one and reads all its messages through an
	// (app_id, …) index: the longer the store runs, the slower.
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+`
		FROM (SELECT * FROM messages WHERE id = $2 OFFSET 0) m WHERE m.app_id = $1`, appID, idOrEventID))
	if errors.Is(err, pgx.ErrNoRows) {
		// message_event_ids names the one message, so that one partition is read.
		m, err = scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages m
			WHERE m.id = (SELECT msg_id FROM message_event_ids WHERE app_id = $1 AND event_id = $2)`, appID, idOrEventID))
	}
	if err != nil {
		return nil, storeErr(err, "message", "")
	}
	return m, nil
}

// Messages lists the application's messages by ID.
func (s *Store) Messages(ctx context.Context, appID string, filter hookd.MessageFilter, page hookd.Page) ([]*hookd.Message, error) {
	var w where
	w.add("m.app_id = ?", appID)
	messageFilter(&w, filter)
	order := w.page("m.id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages m`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return ms, nil
}

// messageFilter adds the conditions of f on the messages table aliased m.
func messageFilter(w *where, f hookd.MessageFilter) {
	if len(f.EventTypes) > 0 {
		w.add("m.event_type = ANY(?)", f.EventTypes)
	}
	if f.Channel != "" {
		w.add("? = ANY(m.channels)", f.Channel)
	}
	if f.Tag != "" {
		w.add("? = ANY(m.tags)", f.Tag)
	}
	if !f.Before.IsZero() {
		w.add("m.timestamp < ?", f.Before)
	}
	if !f.After.IsZero() {
		w.add("m.timestamp > ?", f.After)
	}
}

// ExpungeMessageContent erases the content of one message (see
// ExpungeMessageContents).
func (s *Store) ExpungeMessageContent(ctx context.Context, appID, msgID string) error {
	found, err := s.ExpungeMessageContents(ctx, appID, []string{msgID})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "message not found")
	}
	return nil
}

// ExpungeMessageContents replaces the payloads of the application's messages msgIDs
// with {}, clears their attempts' response bodies and deletes the idempotency-key
// answers that hold them, in one transaction. The old row versions stay in the
// tables' files until VACUUM (ReclaimExpunged) removes them.
func (s *Store) ExpungeMessageContents(ctx context.Context, appID string, msgIDs []string) ([]string, error) {
	var found []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE messages SET payload = '{}'::bytea
			WHERE app_id = $1 AND id = ANY($2) RETURNING id`, appID, msgIDs)
		if err != nil {
			return err
		}
		if found, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if len(found) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE attempts SET response = '' WHERE msg_id = ANY($1) AND response <> ''`, found); err != nil {
			return err
		}
		// The answer to the POST that created a message holds its payload; it is
		// found by the message's ID in its body.
		_, err = tx.Exec(ctx, `DELETE FROM idempotent_responses r WHERE EXISTS (
			SELECT 1 FROM unnest($1::text[]) id WHERE position(convert_to(id, 'UTF8') IN r.body) > 0)`, found)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("expunge messages: %w", err)
	}
	return found, nil
}

// ReclaimExpunged vacuums the tables that held expunged contents, so that the dead
// row versions with the old payloads and response bodies are removed from their
// pages. VACUUM keeps a dead version that a snapshot older than the expunge may still
// read, so it first waits (polling, until ctx ends) for every transaction of the
// database that began before the call (its snapshot or its own ID older) to end.
// Plain VACUUM leaves the bytes of what it removed in the pages' free space until
// reused; with compact, VACUUM FULL rewrites the tables (locking them meanwhile),
// leaving no free space that held content. The write-ahead log and base backups keep
// the old versions until they are recycled.
func (s *Store) ReclaimExpunged(ctx context.Context, compact bool) error {
	var xid string
	if err := s.pool.QueryRow(ctx, `SELECT (pg_current_xact_id()::text::bigint % 4294967296)::text`).Scan(&xid); err != nil {
		return fmt.Errorf("reclaim: %w", err)
	}
	for {
		var older bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
				AND (age(backend_xmin) >= age($1::text::xid) OR age(backend_xid) >= age($1::text::xid)))`, xid).Scan(&older)
		if err != nil {
			return fmt.Errorf("reclaim: %w", err)
		}
		if !older {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	vacuum := `VACUUM messages, attempts, idempotent_responses`
	if compact {
		vacuum = `VACUUM FULL messages, attempts, idempotent_responses`
	}
	if _, err := s.pool.Exec(ctx, vacuum); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

func scanMessage(row pgx.Row) (*hookd.Message, error) {
	var m hookd.Message
	var payload []byte
	if err := row.Scan(&m.ID, &m.AppID, &m.EventType, &m.EventID, &payload, &m.Channels, &m.Tags, &m.Timestamp, &m.OrderingKey); err != nil {
		return nil, err
	}
	m.Payload = payload
	return &m, nil
}

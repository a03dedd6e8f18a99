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
// follows it), skipping (message, endpoint) pairs that already have one; with onlyMsg
// set ($12), only if that message exists.
const deliveriesInsert = `INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts,
		next_attempt, trigger, created_at, updated_at, fifo_key)
	SELECT r.id, r.app_id, r.msg_id, r.endpoint_id, r.status, r.attempts, r.next_attempt, r.trigger,
		r.created_at, r.updated_at, r.fifo_key
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::integer[],
		$7::timestamptz[], $8::smallint[], $9::timestamptz[], $10::timestamptz[], $11::text[])
		WITH ORDINALITY AS r(id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, trigger,
			created_at, updated_at, fifo_key, n)
	WHERE $12::text IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = $12)
	ORDER BY r.n
	ON CONFLICT (msg_id, endpoint_id) DO NOTHING`

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

// queueDeliveries queues the insert of a new message's deliveries.
func queueDeliveries(b *pgx.Batch, ds []*hookd.Delivery, msgID string) {
	b.Queue(deliveriesInsert, deliveryArrays(ds, &msgID)...)
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
		m, err = scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+`
			FROM (SELECT * FROM messages WHERE event_id = $2 OFFSET 0) m WHERE m.app_id = $1`, appID, idOrEventID))
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

// ExpungeMessageContent replaces the message's payload with an empty object.
func (s *Store) ExpungeMessageContent(ctx context.Context, appID, msgID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET payload = '{}'::bytea WHERE app_id = $1 AND id = $2`, appID, msgID)
	if err != nil {
		return fmt.Errorf("expunge message: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "message not found")
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

package postgres

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// A message created with an Idempotency-Key stores the API's answer under the key in
// the message's own statements (hookd.Message.Idempotency): the key is inserted first,
// in a data-modifying WITH of the message insert, and the message is inserted only if
// the key was (not already answered, nor claimed within hookd.IdempotencyClaimStale).
// Concurrent requests with one key on several nodes wait on the key's primary key, and
// the first to commit wins. A message skipped for its EventID must not leave its
// answer behind: answersUndo removes the answers whose message was not inserted,
// recognised by their body (which names the new message's ID, so no earlier answer
// can match).

// answersInsert is the WITH that inserts the answers given as arrays ($9–$13), taking
// over claims older than $14 seconds, and returns the keys it stored.
const answersInsert = `WITH k AS (
	INSERT INTO idempotent_responses AS i (key, status_code, content_type, body, created_at)
	SELECT * FROM unnest($9::text[], $10::integer[], $11::text[], $12::bytea[], $13::timestamptz[])
	ON CONFLICT (key) DO UPDATE SET status_code = excluded.status_code,
		content_type = excluded.content_type, body = excluded.body, created_at = excluded.created_at
	WHERE i.status_code = 0 AND i.created_at < excluded.created_at - $14 * interval '1 second'
	RETURNING key)
`

// messageInsertKeyed is messageInsert for a batch in which some messages carry an
// answer: $15 holds each message's key (NULL: none), and a message with a key is
// inserted only if its answer was; $16 are the payloads' expiry times, $17 the
// ordering keys.
const messageInsertKeyed = answersInsert + `INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, timestamp,
		payload_expires_at, ordering_key)
	SELECT r.id, r.app_id, r.event_type, r.event_id, r.payload,
		CASE WHEN r.channels IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.channels::jsonb)) END,
		CASE WHEN r.tags IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.tags::jsonb)) END,
		r.timestamp, r.payload_expires_at, r.ordering_key
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::timestamptz[], $15::text[],
			$16::timestamptz[], $17::text[])
		WITH ORDINALITY AS r(id, app_id, event_type, event_id, payload, channels, tags, timestamp, ikey, payload_expires_at,
			ordering_key, n)
	WHERE r.ikey IS NULL OR r.ikey IN (SELECT key FROM k)
	ORDER BY r.n
	RETURNING id`

// answersUndo deletes the answers just stored ($1 keys, $2 bodies) whose message ($3)
// was not inserted.
const answersUndo = `DELETE FROM idempotent_responses i
	USING unnest($1::text[], $2::bytea[], $3::text[]) AS u(key, body, msg_id)
	WHERE i.key = u.key AND i.body = u.body AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = u.msg_id)`

// answers are the columns of the answers of a batch, in key order (so that
// concurrent batches take the keys' locks in one order), and the messages' keys.
type answers struct {
	keys, types []string
	statuses    []int32
	bodies      [][]byte
	times       []any
	msgIDs      []string
	undo        bool // some message has an EventID too, and may be skipped for it
}

// answersOf collects the answers of msgs; nil when none has one.
func answersOf(msgs []*hookd.Message) *answers {
	var keyed []*hookd.Message
	for _, m := range msgs {
		if m.Idempotency != nil {
			keyed = append(keyed, m)
		}
	}
	if len(keyed) == 0 {
		return nil
	}
	slices.SortFunc(keyed, func(a, b *hookd.Message) int { return strings.Compare(a.Idempotency.Key, b.Idempotency.Key) })
	a := &answers{}
	for _, m := range keyed {
		r := m.Idempotency
		body := r.Body
		if body == nil {
			body = []byte{}
		}
		a.keys, a.types, a.statuses = append(a.keys, r.Key), append(a.types, r.ContentType), append(a.statuses, int32(r.StatusCode))
		a.bodies, a.times, a.msgIDs = append(a.bodies, body), append(a.times, r.CreatedAt), append(a.msgIDs, m.ID)
		a.undo = a.undo || m.EventID != ""
	}
	return a
}

// args returns the WITH's arguments $9–$14.
func (a *answers) args() []any {
	return []any{a.keys, a.statuses, a.types, a.bodies, a.times, hookd.IdempotencyClaimStale.Seconds()}
}

// queueUndo queues answersUndo when a message of the batch may be skipped for its
// EventID.
func (a *answers) queueUndo(b *pgx.Batch) {
	if a.undo {
		b.Queue(answersUndo, a.keys, a.bodies, a.msgIDs)
	}
}

// keyOf returns msg's idempotency key, or nil.
func keyOf(msg *hookd.Message) *string {
	if msg.Idempotency == nil {
		return nil
	}
	return &msg.Idempotency.Key
}

// answerOutcome is the outcome of a keyed message that was not inserted: the key's
// earlier answer (an *hookd.IdempotentReplay), EIDEMPOTENTBUSY while another request
// holds its claim, or nil when the key is free (the message was skipped for its
// EventID, and its answer undone).
func (s *Store) answerOutcome(ctx context.Context, r *hookd.IdempotentResponse) error {
	var prev hookd.IdempotentResponse
	err := s.pool.QueryRow(ctx, `SELECT key, status_code, content_type, body, created_at
		FROM idempotent_responses WHERE key = $1`, r.Key).
		Scan(&prev.Key, &prev.StatusCode, &prev.ContentType, &prev.Body, &prev.CreatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return storeErr(err, "idempotent response", "")
	case prev.StatusCode == 0:
		return hookd.Errorf(hookd.EIDEMPOTENTBUSY, "a request with this Idempotency-Key is still in progress; retry it later")
	case bytes.Equal(prev.Body, r.Body):
		// Our own answer, though the message was not inserted: never replay it.
		return errors.New("an idempotent answer was stored without its message")
	}
	return &hookd.IdempotentReplay{Response: &prev}
}

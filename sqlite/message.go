package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

const messageColumns = `id, app_id, event_type, event_id, payload, channels, tags, timestamp, ordering_key`

// messageColumnsM is messageColumns qualified by the alias m.
const messageColumnsM = `m.id, m.app_id, m.event_type, m.event_id, m.payload, m.channels, m.tags, m.timestamp,
	m.ordering_key`

// messageDest holds the scan targets of one message row.
type messageDest struct {
	m                 hookd.Message
	eventID           sql.NullString
	payload, ch, tags string
	at                int64
}

func (d *messageDest) targets() []any {
	return []any{&d.m.ID, &d.m.AppID, &d.m.EventType, &d.eventID, &d.payload, &d.ch, &d.tags, &d.at, &d.m.OrderingKey}
}

func (d *messageDest) message() (*hookd.Message, error) {
	m := d.m
	m.EventID = fromOptional(d.eventID)
	m.Payload = []byte(d.payload)
	m.Timestamp = fromTS(d.at)
	var err error
	if m.Channels, err = parseList(d.ch); err != nil {
		return nil, err
	}
	if m.Tags, err = parseList(d.tags); err != nil {
		return nil, err
	}
	return &m, nil
}

func scanMessage(sc scanner) (*hookd.Message, error) {
	var d messageDest
	if err := sc.Scan(d.targets()...); err != nil {
		return nil, err
	}
	return d.message()
}

// CreateMessage inserts msg and its deliveries in one transaction.
func (s *Store) CreateMessage(ctx context.Context, msg *hookd.Message, deliveries []*hookd.Delivery) (*hookd.Message, error) {
	var earlier *hookd.Message
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		if r := msg.Idempotency; r != nil {
			// The key first: if it holds an answer, nothing else is written.
			if err := saveAnswer(tx, r); err != nil {
				return false, err
			}
		}
		_, err := tx.exec(`INSERT INTO messages (`+messageColumns+`, payload_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			msg.ID, msg.AppID, msg.EventType, optional(msg.EventID), string(msg.Payload),
			strList(msg.Channels), strList(msg.Tags), ts(msg.Timestamp), msg.OrderingKey, optionalTS(msg.PayloadExpiresAt))
		if err != nil {
			if isUnique(err) && msg.EventID != "" {
				m, err2 := scanMessage(tx.queryRow(`SELECT `+messageColumns+` FROM messages
					WHERE app_id = ? AND event_id = ?`, msg.AppID, msg.EventID))
				if err2 == nil {
					earlier = m
					return false, hookd.Errorf(hookd.ECONFLICT, "a message with this eventId already exists")
				}
			}
			if isUnique(err) {
				return false, hookd.Errorf(hookd.ECONFLICT, "a message with this id already exists")
			}
			if isForeignKey(err) {
				return false, notFound("application")
			}
			return false, err
		}
		if err := insertDeliveries(tx, deliveries); err != nil {
			if isForeignKey(err) {
				return false, notFound("endpoint")
			}
			if de, ok := errors.AsType[*deliveryError](err); ok && isUnique(err) {
				return false, hookd.Errorf(hookd.ECONFLICT, "duplicate delivery for endpoint %s", de.d.EndpointID)
			}
			return false, err
		}
		return hookd.Claimable(deliveries), nil
	})
	if earlier != nil {
		return earlier, err
	}
	if _, ok := errors.AsType[*hookd.IdempotentReplay](err); ok {
		return nil, err
	}
	if err != nil {
		return nil, wrap("create message", err)
	}
	return msg, nil
}

// Message returns the application's message whose ID or EventID is idOrEventID.
func (s *Store) Message(ctx context.Context, appID, idOrEventID string) (*hookd.Message, error) {
	m, err := scanMessage(s.queryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE app_id = ?1 AND (id = ?2 OR event_id = ?2) ORDER BY id = ?2 DESC LIMIT 1`, appID, idOrEventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("message")
	}
	if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// messageFilterSQL appends the conditions of a message filter on the alias m.
func messageFilterSQL(b *strings.Builder, args []any, eventTypes []string, channel, tag string, before, after int64) []any {
	if len(eventTypes) > 0 {
		var in string
		in, args = inList(eventTypes, args)
		b.WriteString(" AND m.event_type IN " + in)
	}
	if channel != "" {
		b.WriteString(" AND EXISTS (SELECT 1 FROM json_each(m.channels) WHERE value = ?)")
		args = append(args, channel)
	}
	if tag != "" {
		b.WriteString(" AND EXISTS (SELECT 1 FROM json_each(m.tags) WHERE value = ?)")
		args = append(args, tag)
	}
	if before != 0 {
		b.WriteString(" AND m.timestamp < ?")
		args = append(args, before)
	}
	if after != 0 {
		b.WriteString(" AND m.timestamp > ?")
		args = append(args, after)
	}
	return args
}

// boundTS stores a zero time as 0, meaning no bound.
func boundTS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Messages lists the application's messages by ID. Before and After are exclusive
// bounds on Timestamp.
func (s *Store) Messages(ctx context.Context, appID string, filter hookd.MessageFilter, page hookd.Page) ([]*hookd.Message, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + messageColumnsM + ` FROM messages m WHERE m.app_id = ?`)
	args := messageFilterSQL(&b, []any{appID}, filter.EventTypes, filter.Channel, filter.Tag,
		boundTS(filter.Before), boundTS(filter.After))
	cond, tail, args := pageSQL("m.id", page, args)
	b.WriteString(cond + tail)
	out, err := list(ctx, s, b.String(), args, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}

// ExpungeMessageContent erases the content of one message (see
// ExpungeMessageContents).
func (s *Store) ExpungeMessageContent(ctx context.Context, appID, msgID string) error {
	found, err := s.ExpungeMessageContents(ctx, appID, []string{msgID})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return notFound("message")
	}
	return nil
}

// ExpungeMessageContents replaces the payloads of the application's messages msgIDs
// with {}, clears their attempts' response bodies and deletes the idempotency-key
// answers that hold them, in one transaction. The writer's connections delete
// securely (secure_delete), so the bytes the payloads took are zeroed as they are
// freed; ReclaimExpunged then empties the WAL, which may still hold older pages.
func (s *Store) ExpungeMessageContents(ctx context.Context, appID string, msgIDs []string) ([]string, error) {
	var found []string
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		found = found[:0]
		for rest := msgIDs; len(rest) > 0; {
			chunk := rest[:min(len(rest), 250)]
			rest = rest[len(chunk):]
			ids := jsonText(chunk)
			rows, err := tx.query(`UPDATE messages SET payload = '{}'
				WHERE app_id = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id`, appID, ids)
			if err != nil {
				return false, err
			}
			var got []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return false, err
				}
				got = append(got, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return false, err
			}
			if len(got) == 0 {
				continue
			}
			found = append(found, got...)
			ids = jsonText(got)
			if _, err := tx.exec(`UPDATE attempts SET response = ''
				WHERE msg_id IN (SELECT value FROM json_each(?1)) AND response <> ''`, ids); err != nil {
				return false, err
			}
			// The answer to the POST that created a message holds its payload; it is
			// found by the message's ID in its body.
			if _, err := tx.exec(`DELETE FROM idempotent_responses
				WHERE EXISTS (SELECT 1 FROM json_each(?1) j WHERE instr(body, CAST(j.value AS BLOB)) > 0)`, ids); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("expunge messages: %w", err)
	}
	return found, nil
}

// ReclaimExpunged checkpoints the WAL into the database file and truncates it, so the
// page images written before an expunge are gone from disk; a checkpoint that readers
// keep from finishing is tried again a few times.
// compact changes nothing: freed space is zeroed already.
func (s *Store) ReclaimExpunged(ctx context.Context, compact bool) error {
	for i := 0; ; i++ {
		var busy, logFrames, done int
		err := s.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if busy == 0 || i == 9 {
			if busy != 0 {
				return hookd.Errorf(hookd.EUNAVAILABLE, "the WAL could not be truncated: readers kept it busy")
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

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

// ExpungeMessageContent replaces the message's payload with {}.
func (s *Store) ExpungeMessageContent(ctx context.Context, appID, msgID string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE messages SET payload = '{}' WHERE app_id = ? AND id = ?`, appID, msgID)
		if err == nil && n == 0 {
			err = notFound("message")
		}
		return false, err
	})
	if err != nil && !hookd.IsNotFound(err) {
		return fmt.Errorf("expunge message: %w", err)
	}
	return err
}

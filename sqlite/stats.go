package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

var _ hookd.StatsStore = (*Store)(nil)

// addAttemptCounts adds the attempts to the per-minute counters.
func addAttemptCounts(tx *wtx, attempts []*hookd.Attempt) error {
	for _, c := range hookd.CountAttempts(attempts) {
		if _, err := tx.exec(`INSERT INTO attempt_counts (minute, success, fail) VALUES (?, ?, ?)
			ON CONFLICT (minute) DO UPDATE SET success = success + excluded.success,
				fail = fail + excluded.fail`, ts(c.Minute), c.Success, c.Fail); err != nil {
			return err
		}
	}
	return nil
}

// AttemptCounts returns the per-minute counters of [since, until).
func (s *Store) AttemptCounts(ctx context.Context, since, until time.Time) ([]hookd.AttemptCount, error) {
	out, err := list(ctx, s, `SELECT minute, success, fail FROM attempt_counts
		WHERE minute >= ? AND minute < ? ORDER BY minute`, []any{ts(since), ts(until)},
		func(sc scanner) (hookd.AttemptCount, error) {
			var c hookd.AttemptCount
			var m int64
			err := sc.Scan(&m, &c.Success, &c.Fail)
			c.Minute = fromTS(m)
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	return out, nil
}

// QueueCounts counts queued and failed deliveries from their partial indexes.
func (s *Store) QueueCounts(ctx context.Context) (hookd.QueueCounts, error) {
	var q hookd.QueueCounts
	err := s.queryRow(ctx, `SELECT
			(SELECT count(*) FROM deliveries WHERE status IN (1, 3)),
			(SELECT count(*) FROM deliveries WHERE status = 2)`).Scan(&q.Queued, &q.Failed)
	if err != nil {
		return q, fmt.Errorf("queue counts: %w", err)
	}
	return q, nil
}

// TroubledEndpoints lists disabled or failing endpoints of every application.
func (s *Store) TroubledEndpoints(ctx context.Context, page hookd.Page) ([]*hookd.Endpoint, error) {
	cond, tail, args := pageSQL("id", page, nil)
	out, err := list(ctx, s, `SELECT `+endpointColumns+` FROM endpoints
		WHERE (disabled = 1 OR failing_since IS NOT NULL)`+cond+tail, args, scanEndpoint)
	if err != nil {
		return nil, fmt.Errorf("troubled endpoints: %w", err)
	}
	return out, nil
}

// FailedDeliveries lists exhausted deliveries with their message.
func (s *Store) FailedDeliveries(ctx context.Context, filter hookd.DeadLetterFilter, page hookd.Page) ([]*hookd.Delivery, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + deliveryColumnsD + `, ` + messageColumnsM + `
		FROM deliveries d JOIN messages m ON m.id = d.msg_id WHERE d.status = 2`)
	var args []any
	if filter.AppID != "" {
		b.WriteString(` AND d.app_id = ?`)
		args = append(args, filter.AppID)
	}
	if filter.EndpointID != "" {
		b.WriteString(` AND d.endpoint_id = ?`)
		args = append(args, filter.EndpointID)
	}
	if filter.EventType != "" {
		b.WriteString(` AND m.event_type = ?`)
		args = append(args, filter.EventType)
	}
	cond, tail, args := pageSQL("d.id", page, args)
	b.WriteString(cond + tail)
	out, err := list(ctx, s, b.String(), args, scanDeliveryMessage)
	if err != nil {
		return nil, fmt.Errorf("failed deliveries: %w", err)
	}
	return out, nil
}

// MessageDestinations counts the deliveries of the application's messages in an ID
// range: the messages by messages_app, their deliveries by the (msg_id, endpoint_id)
// key.
func (s *Store) MessageDestinations(ctx context.Context, appID, fromID, toID string) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT count(*) FROM messages m JOIN deliveries d ON d.msg_id = m.id
		WHERE m.app_id = ? AND m.id >= ? AND m.id < ?`, appID, fromID, toID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("message destinations: %w", err)
	}
	return n, nil
}

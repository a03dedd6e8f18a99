package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

var _ hookd.StatsStore = (*Store)(nil)

// countShards is how many rows one minute's counters are spread over.
const countShards = 8

// queueAttemptCounts adds to the per-minute counters the attempts that this
// transaction inserted (an attempt already logged, or dropped with its message, is
// not counted: the row's xmin is this transaction's only if it inserted the row), on
// one shard chosen at random, minutes in ascending order (so that two batches on one
// shard lock its rows in the same order). It is queued after the attempts' insert.
func queueAttemptCounts(b *pgx.Batch, attempts []*hookd.Attempt) {
	if len(attempts) == 0 {
		return
	}
	ids := make([]string, len(attempts))
	minutes := make([]time.Time, len(attempts))
	success := make([]int64, len(attempts))
	fail := make([]int64, len(attempts))
	for i, a := range attempts {
		c := hookd.CountAttempt(a)
		ids[i], minutes[i], success[i], fail[i] = a.ID, c.Minute, c.Success, c.Fail
	}
	b.Queue(`INSERT INTO attempt_counts (minute, shard, success, fail)
		SELECT r.minute, $5, sum(r.success), sum(r.fail)
		FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[]) AS r(id, minute, success, fail)
		JOIN attempts a ON a.id = r.id AND a.xmin = pg_current_xact_id()::xid
		GROUP BY r.minute
		ORDER BY r.minute
		ON CONFLICT (minute, shard) DO UPDATE SET success = attempt_counts.success + excluded.success,
			fail = attempt_counts.fail + excluded.fail`,
		ids, minutes, success, fail, int16(rand.IntN(countShards)))
}

// AttemptCounts returns the per-minute counters of [since, until), shards summed.
func (s *Store) AttemptCounts(ctx context.Context, since, until time.Time) ([]hookd.AttemptCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT minute, sum(success)::bigint, sum(fail)::bigint FROM attempt_counts
		WHERE minute >= $1 AND minute < $2 GROUP BY minute ORDER BY minute`, since, until)
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookd.AttemptCount, error) {
		var c hookd.AttemptCount
		err := r.Scan(&c.Minute, &c.Success, &c.Fail)
		c.Minute = c.Minute.UTC()
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
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM deliveries WHERE status IN `+dueStatuses+`),
			(SELECT count(*) FROM deliveries WHERE status = 2)`).Scan(&q.Queued, &q.Failed)
	if err != nil {
		return q, fmt.Errorf("queue counts: %w", err)
	}
	return q, nil
}

// TroubledEndpoints lists disabled or failing endpoints of every application.
func (s *Store) TroubledEndpoints(ctx context.Context, page hookd.Page) ([]*hookd.Endpoint, error) {
	var w where
	w.add("(disabled OR failing_since IS NOT NULL)")
	order := w.page("id", page)
	return s.queryEndpoints(ctx, `SELECT `+endpointColumns+` FROM endpoints`+w.String()+order, w.args...)
}

// FailedDeliveries lists exhausted deliveries with their message.
func (s *Store) FailedDeliveries(ctx context.Context, filter hookd.DeadLetterFilter, page hookd.Page) ([]*hookd.Delivery, error) {
	var w where
	w.add("d.status = 2")
	if filter.AppID != "" {
		w.add("d.app_id = ?", filter.AppID)
	}
	if filter.EndpointID != "" {
		w.add("d.endpoint_id = ?", filter.EndpointID)
	}
	if filter.EventType != "" {
		w.add("m.event_type = ?", filter.EventType)
	}
	order := w.page("d.id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+`, `+messageColumns+`
		FROM deliveries d JOIN messages m ON m.id = d.msg_id`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("failed deliveries: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Delivery, error) { return scanDeliveryMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("failed deliveries: %w", err)
	}
	return ds, nil
}

// MessageDestinations counts the deliveries of the application's messages in an ID
// range: the messages by messages_app, their deliveries by the (msg_id, endpoint_id)
// key.
func (s *Store) MessageDestinations(ctx context.Context, appID, fromID, toID string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages m JOIN deliveries d ON d.msg_id = m.id
		WHERE m.app_id = $1 AND m.id >= $2 AND m.id < $3`, appID, fromID, toID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("message destinations: %w", err)
	}
	return n, nil
}

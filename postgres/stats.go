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

// attemptsInsert inserts attempts given as arrays ($1–$13) and adds those it inserted
// to the per-minute counters ($14–$16 are each attempt's minute and its success and
// fail counts, $17 the shard): an attempt already logged, or dropped because its
// message was deleted meanwhile (with its application), is neither inserted nor
// counted. The counters go on one shard chosen at random, minutes in ascending order,
// so that two batches on one shard lock its rows in the same order. OFFSET 0 keeps
// the message check a primary key lookup per attempt (a subplan): as a semi join its
// generic plan could scan the messages partitions (see queueLookupPlans), and the
// joins here run with hash joins on (queueSetPlans).
const attemptsInsert = `WITH a AS (
		INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, response_status_code,
			response, duration, trigger, error, timestamp, headers)
		SELECT r.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[],
			$7::integer[], $8::text[], $9::bigint[], $10::smallint[], $11::text[], $12::timestamptz[], $13::text[])
			AS r(id, app_id, msg_id, endpoint_id, url, status, code, response, duration, trigger, error, ts, headers)
		WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = r.msg_id OFFSET 0)
		ON CONFLICT (id) DO NOTHING
		RETURNING id)
	INSERT INTO attempt_counts (minute, shard, success, fail)
	SELECT c.minute, $17, sum(c.success), sum(c.fail)
	FROM unnest($1::text[], $14::timestamptz[], $15::bigint[], $16::bigint[]) AS c(id, minute, success, fail)
	JOIN a ON a.id = c.id
	GROUP BY c.minute
	ORDER BY c.minute
	ON CONFLICT (minute, shard) DO UPDATE SET success = attempt_counts.success + excluded.success,
		fail = attempt_counts.fail + excluded.fail`

// attemptArrays returns attemptsInsert's $1–$13.
func attemptArrays(attempts []*hookd.Attempt) []any {
	n := len(attempts)
	var (
		ids, apps, msgs, eps   = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		urls, resps, errs, hdr = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		status, trig           = make([]int16, n), make([]int16, n)
		codes                  = make([]int32, n)
		dur                    = make([]int64, n)
		times                  = make([]time.Time, n)
	)
	for i, a := range attempts {
		ids[i], apps[i], msgs[i], eps[i] = a.ID, a.AppID, a.MsgID, a.EndpointID
		urls[i], resps[i], errs[i], hdr[i] = a.URL, a.Response, a.Error, hookd.EncodeAttemptHeaders(a.Headers)
		status[i], trig[i], codes[i] = int16(a.Status), int16(a.Trigger), int32(a.ResponseStatusCode)
		dur[i], times[i] = int64(a.Duration), a.Timestamp
	}
	return []any{ids, apps, msgs, eps, urls, status, codes, resps, dur, trig, errs, times, hdr}
}

// attemptCountArgs returns attemptsInsert's $14–$17.
func attemptCountArgs(attempts []*hookd.Attempt) []any {
	minutes := make([]time.Time, len(attempts))
	success := make([]int64, len(attempts))
	fail := make([]int64, len(attempts))
	for i, a := range attempts {
		c := hookd.CountAttempt(a)
		minutes[i], success[i], fail[i] = c.Minute, c.Success, c.Fail
	}
	return []any{minutes, success, fail, int16(rand.IntN(countShards))}
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

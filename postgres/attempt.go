package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const attemptColumns = `a.id, a.app_id, a.msg_id, a.endpoint_id, a.url, a.status, a.response_status_code,
	a.response, a.duration, a.trigger, a.error, a.timestamp, a.headers`

// Attempt returns one attempt of a message.
func (s *Store) Attempt(ctx context.Context, appID, msgID, attemptID string) (*hookd.Attempt, error) {
	a, err := scanAttempt(s.pool.QueryRow(ctx, `SELECT `+attemptColumns+` FROM attempts a
		WHERE a.app_id = $1 AND a.msg_id = $2 AND a.id = $3`, appID, msgID, attemptID))
	if err != nil {
		return nil, storeErr(err, "attempt", "")
	}
	return a, nil
}

// AttemptsByMessage lists a message's attempts by ID.
func (s *Store) AttemptsByMessage(ctx context.Context, appID, msgID string, filter hookd.AttemptFilter, page hookd.Page) ([]*hookd.Attempt, error) {
	var w where
	w.add("a.app_id = ?", appID)
	w.add("a.msg_id = ?", msgID)
	return s.queryAttempts(ctx, &w, filter, page, false)
}

// AttemptsByEndpoint lists an endpoint's attempts by ID.
func (s *Store) AttemptsByEndpoint(ctx context.Context, appID, endpointID string, filter hookd.AttemptFilter, page hookd.Page) ([]*hookd.Attempt, error) {
	var w where
	w.add("a.app_id = ?", appID)
	w.add("a.endpoint_id = ?", endpointID)
	// Pinned only without further filters: a selective one (a status, a time) is
	// better served by reading the endpoint's attempts and sorting those that match.
	unfiltered := filter.Status == nil && filter.StatusCodeClass == 0 && !filter.NoResponse && len(filter.EventTypes) == 0 &&
		filter.Channel == "" && filter.Before.IsZero() && filter.After.IsZero()
	return s.queryAttempts(ctx, &w, filter, page, unfiltered)
}

// queryAttempts lists the attempts w selects. ordered pins the plan to an ordered
// walk of each partition's index (bitmap scans and sorts off for the query): an
// endpoint's attempts are many, and a partition that has no statistics yet (a new
// one, or autovacuum off) has its rows for one endpoint estimated at 0.5%, for which
// the planner read all of them through a bitmap and sorted them (50–140 ms for
// 30,000, measured) instead of reading the newest page's worth.
func (s *Store) queryAttempts(ctx context.Context, w *where, f hookd.AttemptFilter, page hookd.Page, ordered bool) ([]*hookd.Attempt, error) {
	if f.Status != nil {
		w.add("a.status = ?", *f.Status)
	}
	if f.StatusCodeClass > 0 {
		w.add("a.response_status_code >= ? AND a.response_status_code < ?", f.StatusCodeClass, f.StatusCodeClass+100)
	}
	if f.NoResponse {
		w.add("a.response_status_code = 0")
	}
	if f.EndpointID != "" {
		w.add("a.endpoint_id = ?", f.EndpointID)
	}
	if !f.Before.IsZero() {
		w.add("a.timestamp < ?", f.Before)
	}
	if !f.After.IsZero() {
		w.add("a.timestamp > ?", f.After)
	}
	from := " FROM attempts a"
	if len(f.EventTypes) > 0 || f.Channel != "" {
		from += " JOIN messages m ON m.id = a.msg_id"
		messageFilter(w, hookd.MessageFilter{EventTypes: f.EventTypes, Channel: f.Channel})
	}
	order := w.page("a.id", page)
	query := `SELECT ` + attemptColumns + from + w.String() + order
	var as []*hookd.Attempt
	list := func(q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}) error {
		rows, err := q.Query(ctx, query, w.args...)
		if err != nil {
			return err
		}
		as, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Attempt, error) { return scanAttempt(r) })
		return err
	}
	var err error
	if ordered {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off`); err != nil {
				return err
			}
			return list(tx)
		})
	} else {
		err = list(s.pool)
	}
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return as, nil
}

// ExpungeAttemptContent clears the stored response body of one attempt.
func (s *Store) ExpungeAttemptContent(ctx context.Context, appID, msgID, attemptID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE attempts SET response = '' WHERE app_id = $1 AND msg_id = $2 AND id = $3`,
		appID, msgID, attemptID)
	if err != nil {
		return fmt.Errorf("expunge attempt: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "attempt not found")
	}
	return nil
}

func scanAttempt(row pgx.Row) (*hookd.Attempt, error) {
	var a hookd.Attempt
	var dur int64
	var headers string
	if err := row.Scan(&a.ID, &a.AppID, &a.MsgID, &a.EndpointID, &a.URL, &a.Status, &a.ResponseStatusCode,
		&a.Response, &dur, &a.Trigger, &a.Error, &a.Timestamp, &headers); err != nil {
		return nil, err
	}
	a.Headers = hookd.DecodeAttemptHeaders(headers)
	a.Duration = time.Duration(dur)
	return &a, nil
}

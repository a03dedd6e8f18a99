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

const attemptColumns = `id, app_id, msg_id, endpoint_id, url, status, response_status_code,
	response, duration, trigger, error, timestamp, headers`

const attemptColumnsA = `a.id, a.app_id, a.msg_id, a.endpoint_id, a.url, a.status,
	a.response_status_code, a.response, a.duration, a.trigger, a.error, a.timestamp, a.headers`

func scanAttempt(sc scanner) (*hookd.Attempt, error) {
	var (
		a       hookd.Attempt
		dur, at int64
		headers string
	)
	if err := sc.Scan(&a.ID, &a.AppID, &a.MsgID, &a.EndpointID, &a.URL, &a.Status,
		&a.ResponseStatusCode, &a.Response, &dur, &a.Trigger, &a.Error, &at, &headers); err != nil {
		return nil, err
	}
	a.Headers = hookd.DecodeAttemptHeaders(headers)
	a.Duration = time.Duration(dur)
	a.Timestamp = fromTS(at)
	return &a, nil
}

// insertAttemptsSQL[n] inserts n attempts in one statement, leaving out those already
// logged and those whose message no longer exists (see
// hookd.DeliveryStore.RecordAttempts); both are found by primary key or index
// (attempts_msg), as IDs have no index of their own. VALUES names its columns
// column1, column2, …: column1 is id, column3 msg_id.
var insertAttemptsSQL = func() [maxRowsPerInsert + 1]string {
	var out [maxRowsPerInsert + 1]string
	row := `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	for n := 1; n <= maxRowsPerInsert; n++ {
		out[n] = `INSERT INTO attempts (` + attemptColumns + `) SELECT * FROM (VALUES ` + row +
			strings.Repeat(", "+row, n-1) + `) AS v
			WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = v.column3)
				AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.msg_id = v.column3 AND a.id = v.column1)
			RETURNING id`
	}
	return out
}()

// insertAttempts inserts as with one statement per maxRowsPerInsert rows and returns
// those it inserted: the attempt counters count only these.
func insertAttempts(tx *wtx, as []*hookd.Attempt) ([]*hookd.Attempt, error) {
	var inserted []*hookd.Attempt
	args := make([]any, 0, 13*min(len(as), maxRowsPerInsert))
	for len(as) > 0 {
		chunk := as[:min(len(as), maxRowsPerInsert)]
		as = as[len(chunk):]
		args = args[:0]
		for _, a := range chunk {
			args = append(args, a.ID, a.AppID, a.MsgID, a.EndpointID, a.URL, int(a.Status), a.ResponseStatusCode,
				a.Response, int64(a.Duration), int(a.Trigger), a.Error, ts(a.Timestamp), hookd.EncodeAttemptHeaders(a.Headers))
		}
		rows, err := tx.query(insertAttemptsSQL[len(chunk)], args...)
		if err != nil {
			return nil, err
		}
		ids := make(map[string]bool, len(chunk))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ids[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, a := range chunk {
			if ids[a.ID] {
				inserted = append(inserted, a)
			}
		}
	}
	return inserted, nil
}

// Attempt returns one attempt of a message.
func (s *Store) Attempt(ctx context.Context, appID, msgID, attemptID string) (*hookd.Attempt, error) {
	a, err := scanAttempt(s.queryRow(ctx, `SELECT `+attemptColumns+` FROM attempts
		WHERE id = ? AND app_id = ? AND msg_id = ?`, attemptID, appID, msgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("attempt")
	}
	if err != nil {
		return nil, fmt.Errorf("get attempt: %w", err)
	}
	return a, nil
}

// attempts lists attempts matching key = value (msg_id or endpoint_id) and filter.
// Before and After are exclusive bounds on the attempt's Timestamp.
func (s *Store) attempts(ctx context.Context, appID, keyCol, key string, filter hookd.AttemptFilter, page hookd.Page) ([]*hookd.Attempt, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + attemptColumnsA + ` FROM attempts a`)
	joined := len(filter.EventTypes) > 0 || filter.Channel != ""
	if joined {
		b.WriteString(` JOIN messages m ON m.id = a.msg_id`)
	}
	b.WriteString(` WHERE a.` + keyCol + ` = ? AND a.app_id = ?`)
	args := []any{key, appID}
	if filter.Status != nil {
		b.WriteString(` AND a.status = ?`)
		args = append(args, int(*filter.Status))
	}
	if filter.StatusCodeClass != 0 {
		b.WriteString(` AND a.response_status_code >= ? AND a.response_status_code < ?`)
		args = append(args, filter.StatusCodeClass, filter.StatusCodeClass+100)
	}
	if filter.NoResponse {
		b.WriteString(` AND a.response_status_code = 0`)
	}
	if filter.EndpointID != "" {
		b.WriteString(` AND a.endpoint_id = ?`)
		args = append(args, filter.EndpointID)
	}
	if !filter.Before.IsZero() {
		b.WriteString(` AND a.timestamp < ?`)
		args = append(args, ts(filter.Before))
	}
	if !filter.After.IsZero() {
		b.WriteString(` AND a.timestamp > ?`)
		args = append(args, ts(filter.After))
	}
	if joined {
		args = messageFilterSQL(&b, args, filter.EventTypes, filter.Channel, "", 0, 0)
	}
	cond, tail, args := pageSQL("a.id", page, args)
	b.WriteString(cond + tail)
	return list(ctx, s, b.String(), args, scanAttempt)
}

// AttemptsByMessage lists a message's attempts by ID.
func (s *Store) AttemptsByMessage(ctx context.Context, appID, msgID string, filter hookd.AttemptFilter, page hookd.Page) ([]*hookd.Attempt, error) {
	out, err := s.attempts(ctx, appID, "msg_id", msgID, filter, page)
	if err != nil {
		return nil, fmt.Errorf("attempts by message: %w", err)
	}
	return out, nil
}

// AttemptsByEndpoint lists an endpoint's attempts by ID.
func (s *Store) AttemptsByEndpoint(ctx context.Context, appID, endpointID string, filter hookd.AttemptFilter, page hookd.Page) ([]*hookd.Attempt, error) {
	out, err := s.attempts(ctx, appID, "endpoint_id", endpointID, filter, page)
	if err != nil {
		return nil, fmt.Errorf("attempts by endpoint: %w", err)
	}
	return out, nil
}

// ExpungeAttemptContent clears the stored response body of one attempt.
func (s *Store) ExpungeAttemptContent(ctx context.Context, appID, msgID, attemptID string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE attempts SET response = '' WHERE id = ? AND app_id = ? AND msg_id = ?`,
			attemptID, appID, msgID)
		if err == nil && n == 0 {
			err = notFound("attempt")
		}
		return false, err
	})
	return wrap("expunge attempt", err)
}

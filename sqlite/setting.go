package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd"
)

// IdempotentResponse returns the API response stored under key.
func (s *Store) IdempotentResponse(ctx context.Context, key string) (*hookd.IdempotentResponse, error) {
	var (
		r  hookd.IdempotentResponse
		at int64
	)
	err := s.queryRow(ctx, `SELECT key, status_code, content_type, body, created_at
		FROM idempotent_responses WHERE key = ? AND status_code <> 0`, key).Scan(&r.Key, &r.StatusCode, &r.ContentType, &r.Body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("idempotent response")
	}
	if err != nil {
		return nil, fmt.Errorf("get idempotent response: %w", err)
	}
	r.CreatedAt = fromTS(at)
	return &r, nil
}

// SaveIdempotentResponse stores r, replacing a claim on its key, unless a response is
// stored under the key already, and returns what the key holds afterwards.
func (s *Store) SaveIdempotentResponse(ctx context.Context, r *hookd.IdempotentResponse) (*hookd.IdempotentResponse, error) {
	var inserted int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		body := r.Body
		if body == nil {
			body = []byte{}
		}
		var err error
		inserted, err = tx.affected(`INSERT INTO idempotent_responses (key, status_code, content_type, body, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET
				status_code = excluded.status_code, content_type = excluded.content_type,
				body = excluded.body, created_at = excluded.created_at
			WHERE idempotent_responses.status_code = 0`,
			r.Key, r.StatusCode, r.ContentType, body, ts(r.CreatedAt))
		return false, err
	})
	if err != nil {
		return nil, fmt.Errorf("save idempotent response: %w", err)
	}
	if inserted > 0 {
		return r, nil
	}
	return s.IdempotentResponse(ctx, r.Key)
}

// saveAnswer stores r under its key in the writer's transaction, taking over a claim
// older than hookd.IdempotencyClaimStale. When the key holds an answer already it
// returns an *hookd.IdempotentReplay with it, and EIDEMPOTENTBUSY while it holds a
// newer claim.
func saveAnswer(tx *wtx, r *hookd.IdempotentResponse) error {
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	n, err := tx.affected(`INSERT INTO idempotent_responses (key, status_code, content_type, body, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET
			status_code = excluded.status_code, content_type = excluded.content_type,
			body = excluded.body, created_at = excluded.created_at
		WHERE idempotent_responses.status_code = 0 AND idempotent_responses.created_at < ?`,
		r.Key, r.StatusCode, r.ContentType, body, ts(r.CreatedAt), ts(r.CreatedAt.Add(-hookd.IdempotencyClaimStale)))
	if err != nil {
		return fmt.Errorf("save idempotent response: %w", err)
	}
	if n > 0 {
		return nil
	}
	var (
		prev hookd.IdempotentResponse
		at   int64
	)
	if err := tx.queryRow(`SELECT key, status_code, content_type, body, created_at
		FROM idempotent_responses WHERE key = ?`, r.Key).Scan(&prev.Key, &prev.StatusCode, &prev.ContentType, &prev.Body, &at); err != nil {
		return fmt.Errorf("read idempotent response: %w", err)
	}
	if prev.StatusCode == 0 {
		return idempotencyBusy()
	}
	prev.CreatedAt = fromTS(at)
	return &hookd.IdempotentReplay{Response: &prev}
}

// ClaimIdempotencyKey reserves key for a request starting at now. A claim is a row
// with status code 0; one older than now-stale is taken over.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, key string, now time.Time, stale time.Duration) (*hookd.IdempotentResponse, error) {
	var claimed int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var err error
		claimed, err = tx.affected(`INSERT INTO idempotent_responses (key, status_code, content_type, body, created_at)
			VALUES (?, 0, '', x'', ?) ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at
			WHERE idempotent_responses.status_code = 0 AND idempotent_responses.created_at < ?`,
			key, ts(now), ts(now.Add(-stale)))
		return false, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if claimed > 0 {
		return nil, nil
	}
	r, err := s.IdempotentResponse(ctx, key)
	if hookd.IsNotFound(err) {
		return nil, idempotencyBusy()
	}
	return r, err
}

// ReleaseIdempotencyKey drops an unanswered claim on key.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`DELETE FROM idempotent_responses WHERE key = ? AND status_code = 0`, key)
		return false, err
	})
	return wrap("release idempotency key", err)
}

func idempotencyBusy() error {
	return hookd.Errorf(hookd.EIDEMPOTENTBUSY, "a request with this Idempotency-Key is still in progress; retry it later")
}

// purgeBatch bounds the expired keys one write deletes, so that a purge after a busy
// day is many short writes that ingest's batches come between, not one long one.
const purgeBatch = 1000

// DeleteIdempotentResponses removes responses created before t, purgeBatch at a
// time from the oldest, through the index on created_at.
func (s *Store) DeleteIdempotentResponses(ctx context.Context, before time.Time) error {
	for {
		var n int64
		err := s.write(ctx, func(tx *wtx) (bool, error) {
			var err error
			n, err = tx.affected(`DELETE FROM idempotent_responses WHERE key IN (
				SELECT key FROM idempotent_responses WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
				ts(before), purgeBatch)
			return false, err
		})
		if err != nil {
			return wrap("delete idempotent responses", err)
		}
		if n < purgeBatch {
			return nil
		}
	}
}

// Setting returns the value of name.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("setting")
	}
	if err != nil {
		return "", fmt.Errorf("get setting: %w", err)
	}
	return v, nil
}

// PutSetting sets name to value.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`INSERT INTO settings (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return false, err
	})
	return wrap("put setting", err)
}

// PutSettingIfAbsent sets name to value unless it has one, and returns the value it
// has afterwards.
func (s *Store) PutSettingIfAbsent(ctx context.Context, name, value string) (string, error) {
	var out string
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		if _, err := tx.exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			name, value); err != nil {
			return false, err
		}
		return false, tx.queryRow(`SELECT value FROM settings WHERE name = ?`, name).Scan(&out)
	})
	if err != nil {
		return "", fmt.Errorf("put setting if absent: %w", err)
	}
	return out, nil
}

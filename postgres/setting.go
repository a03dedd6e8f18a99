package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// Setting returns the value of name.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v); err != nil {
		return "", storeErr(err, "setting", "")
	}
	return v, nil
}

// PutSetting sets name to value.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}

// PutSettingIfAbsent sets name to value unless it has a value, and returns the value
// it has afterwards. ON CONFLICT DO NOTHING waits for a concurrent insert of the same
// name, so nodes starting at once all read the winner's value.
func (s *Store) PutSettingIfAbsent(ctx context.Context, name, value string) (string, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", fmt.Errorf("put setting: %w", err)
	}
	return s.Setting(ctx, name)
}

// IdempotentResponse returns the API response stored under key.
func (s *Store) IdempotentResponse(ctx context.Context, key string) (*hookd.IdempotentResponse, error) {
	var r hookd.IdempotentResponse
	err := s.pool.QueryRow(ctx, `SELECT key, status_code, content_type, body, created_at
		FROM idempotent_responses WHERE key = $1 AND status_code <> 0`, key).
		Scan(&r.Key, &r.StatusCode, &r.ContentType, &r.Body, &r.CreatedAt)
	if err != nil {
		return nil, storeErr(err, "idempotent response", "")
	}
	return &r, nil
}

// SaveIdempotentResponse stores r, replacing a claim on its key, unless a response is
// stored under the key already, and returns what is stored afterwards. The primary key
// makes the first node's response win.
func (s *Store) SaveIdempotentResponse(ctx context.Context, r *hookd.IdempotentResponse) (*hookd.IdempotentResponse, error) {
	// One statement: insert, or else read the earlier row. If that row was committed
	// after the statement's snapshot the read finds nothing; a second query then does.
	var saved hookd.IdempotentResponse
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO idempotent_responses (key, status_code, content_type, body, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE SET
				status_code = excluded.status_code, content_type = excluded.content_type,
				body = excluded.body, created_at = excluded.created_at
			WHERE idempotent_responses.status_code = 0
			RETURNING key, status_code, content_type, body, created_at)
		SELECT * FROM ins
		UNION ALL
		SELECT key, status_code, content_type, body, created_at FROM idempotent_responses
		WHERE key = $1 AND status_code <> 0 AND NOT EXISTS (SELECT 1 FROM ins)`,
		r.Key, r.StatusCode, r.ContentType, r.Body, r.CreatedAt).
		Scan(&saved.Key, &saved.StatusCode, &saved.ContentType, &saved.Body, &saved.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.IdempotentResponse(ctx, r.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("save idempotent response: %w", err)
	}
	return &saved, nil
}

// ClaimIdempotencyKey reserves key for a request starting at now. A claim is a row
// with status code 0; one older than now-stale is taken over. The primary key makes
// exactly one of several nodes' concurrent claims win.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, key string, now time.Time, stale time.Duration) (*hookd.IdempotentResponse, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO idempotent_responses (key, status_code, content_type, body, created_at)
		VALUES ($1, 0, '', ''::bytea, $2) ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at
		WHERE idempotent_responses.status_code = 0 AND idempotent_responses.created_at < $3`,
		key, now, now.Add(-stale))
	if err != nil {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return nil, nil
	}
	r, err := s.IdempotentResponse(ctx, key)
	if hookd.IsNotFound(err) {
		return nil, hookd.Errorf(hookd.EIDEMPOTENTBUSY, "a request with this Idempotency-Key is still in progress; retry it later")
	}
	return r, err
}

// ReleaseIdempotencyKey drops an unanswered claim on key.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotent_responses WHERE key = $1 AND status_code = 0`, key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// purgeBatch bounds the expired keys one statement deletes, so that a purge after a
// busy day is many short transactions, not one that holds ingest's WAL and locks.
const purgeBatch = 1000

// DeleteIdempotentResponses removes responses created before t, purgeBatch at a
// time from the oldest, through the index on created_at, and then, if it removed
// any, vacuums the table, so that the next keys reuse their space whether or not
// autovacuum runs (it may be off, or not yet due: the table turns over every
// idempotency TTL). The keys' lookups are by key, so the table is not partitioned by
// time.
func (s *Store) DeleteIdempotentResponses(ctx context.Context, before time.Time) error {
	var deleted int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM idempotent_responses WHERE key IN (
			SELECT key FROM idempotent_responses WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, before, purgeBatch)
		if err != nil {
			return fmt.Errorf("delete idempotent responses: %w", err)
		}
		deleted += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatch {
			break
		}
	}
	if deleted == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) idempotent_responses`); err != nil {
		return fmt.Errorf("vacuum idempotent responses: %w", err)
	}
	return nil
}

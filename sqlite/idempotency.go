package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// IdempotencyStore is a durable webhook.IdempotencyStore in SQLite, for receivers that
// de-duplicate messages across restarts over windows of days. It keeps its own
// table, webhook_idempotency, created by NewIdempotencyStore; expiry times are
// Unix milliseconds from Now, so the window does not depend on SQLite's clock.
type IdempotencyStore struct {
	db *sql.DB
	// Now is the store's clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	claims atomic.Uint64
}

var _ webhook.IdempotencyStore = (*IdempotencyStore)(nil)

// idemPurgeEvery is how many claims pass between two purges of expired keys.
const idemPurgeEvery = 1024

const idemSchema = `
CREATE TABLE IF NOT EXISTS webhook_idempotency (
	message_id TEXT    NOT NULL PRIMARY KEY,
	done       INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL -- Unix milliseconds
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS webhook_idempotency_expires_at ON webhook_idempotency (expires_at);
`

// NewIdempotencyStore returns a store in db (opened with the "sqlite" driver of
// modernc.org/sqlite), creating its table if missing.
func NewIdempotencyStore(ctx context.Context, db *sql.DB) (*IdempotencyStore, error) {
	if _, err := db.ExecContext(ctx, idemSchema); err != nil {
		return nil, fmt.Errorf("create webhook_idempotency table: %w", err)
	}
	return &IdempotencyStore{db: db}, nil
}

func (s *IdempotencyStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Claim implements webhook.IdempotencyStore: one statement inserts the key, or takes
// over an expired one, so concurrent claims have a single winner.
func (s *IdempotencyStore) Claim(ctx context.Context, key string, lease time.Duration) (webhook.ClaimState, error) {
	if s.claims.Add(1)%idemPurgeEvery == 0 {
		s.Purge(ctx) // best effort; expired rows are ignored by Claim anyway
	}
	for range 3 {
		now := s.now()
		res, err := s.db.ExecContext(ctx, `
			INSERT INTO webhook_idempotency (message_id, done, expires_at) VALUES (?1, 0, ?2)
			ON CONFLICT (message_id) DO UPDATE SET done = 0, expires_at = excluded.expires_at
			WHERE webhook_idempotency.expires_at <= ?3`,
			key, now.Add(lease).UnixMilli(), now.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("claim webhook id: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("claim webhook id: %w", err)
		} else if n == 1 {
			return webhook.Claimed, nil
		}
		var done bool
		err = s.db.QueryRowContext(ctx, `SELECT done FROM webhook_idempotency WHERE message_id = ?1`, key).Scan(&done)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // released in between: try again
		case err != nil:
			return 0, fmt.Errorf("read webhook id: %w", err)
		case done:
			return webhook.Completed, nil
		default:
			return webhook.InFlight, nil
		}
	}
	return webhook.InFlight, nil
}

// Complete implements webhook.IdempotencyStore.
func (s *IdempotencyStore) Complete(ctx context.Context, key string, ttl time.Duration) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO webhook_idempotency (message_id, done, expires_at) VALUES (?1, 1, ?2)
		ON CONFLICT (message_id) DO UPDATE SET done = 1, expires_at = excluded.expires_at`,
		key, s.now().Add(ttl).UnixMilli())
	if err != nil {
		return fmt.Errorf("complete webhook id: %w", err)
	}
	return nil
}

// Release implements webhook.IdempotencyStore.
func (s *IdempotencyStore) Release(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM webhook_idempotency WHERE message_id = ?1`, key); err != nil {
		return fmt.Errorf("release webhook id: %w", err)
	}
	return nil
}

// Purge deletes expired keys and returns how many. Claim calls it every 1024 claims;
// call it from a timer for a tighter bound on the table's size.
func (s *IdempotencyStore) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_idempotency WHERE expires_at <= ?1`, s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purge webhook ids: %w", err)
	}
	return res.RowsAffected()
}

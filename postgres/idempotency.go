package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/webhook"
)

// IdempotencyStore is a durable webhook.IdempotencyStore in PostgreSQL, shared by any
// number of receiver processes, for de-duplication windows of days. It keeps its own
// table, webhook_idempotency (in the connection's search_path), created by
// NewIdempotencyStore. Expiry times come from Now, not from the database clock.
type IdempotencyStore struct {
	pool *pgxpool.Pool
	// Now is the store's clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	claims atomic.Uint64
}

var _ webhook.IdempotencyStore = (*IdempotencyStore)(nil)

// idemPurgeEvery is how many claims pass between two purges of expired keys.
const idemPurgeEvery = 1024

const idemSchema = `
CREATE TABLE IF NOT EXISTS webhook_idempotency (
	message_id TEXT        NOT NULL PRIMARY KEY,
	done       BOOLEAN     NOT NULL DEFAULT false,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_idempotency_expires_at ON webhook_idempotency (expires_at);
`

// NewIdempotencyStore returns a store in pool's database, creating its table if
// missing. Several processes may call it at once: creation is serialised with an
// advisory lock.
func NewIdempotencyStore(ctx context.Context, pool *pgxpool.Pool) (*IdempotencyStore, error) {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('hookd.webhook_idempotency'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, idemSchema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create webhook_idempotency table: %w", err)
	}
	return &IdempotencyStore{pool: pool}, nil
}

func (s *IdempotencyStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Claim implements webhook.IdempotencyStore: one statement inserts the key, or takes
// over an expired one, so concurrent claims from any process have a single winner.
func (s *IdempotencyStore) Claim(ctx context.Context, key string, lease time.Duration) (webhook.ClaimState, error) {
	if s.claims.Add(1)%idemPurgeEvery == 0 {
		s.Purge(ctx) // best effort; expired rows are ignored by Claim anyway
	}
	for range 3 {
		now := s.now()
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO webhook_idempotency (message_id, done, expires_at) VALUES ($1, false, $2)
			ON CONFLICT (message_id) DO UPDATE SET done = false, expires_at = excluded.expires_at
			WHERE webhook_idempotency.expires_at <= $3`,
			key, now.Add(lease), now)
		if err != nil {
			return 0, fmt.Errorf("claim webhook id: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return webhook.Claimed, nil
		}
		var done bool
		err = s.pool.QueryRow(ctx, `SELECT done FROM webhook_idempotency WHERE message_id = $1`, key).Scan(&done)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
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
	_, err := s.pool.Exec(ctx, `
		INSERT INTO webhook_idempotency (message_id, done, expires_at) VALUES ($1, true, $2)
		ON CONFLICT (message_id) DO UPDATE SET done = true, expires_at = excluded.expires_at`,
		key, s.now().Add(ttl))
	if err != nil {
		return fmt.Errorf("complete webhook id: %w", err)
	}
	return nil
}

// Release implements webhook.IdempotencyStore.
func (s *IdempotencyStore) Release(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM webhook_idempotency WHERE message_id = $1`, key); err != nil {
		return fmt.Errorf("release webhook id: %w", err)
	}
	return nil
}

// Purge deletes expired keys and returns how many. Claim calls it every 1024 claims;
// call it from a timer for a tighter bound on the table's size.
func (s *IdempotencyStore) Purge(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_idempotency WHERE expires_at <= $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("purge webhook ids: %w", err)
	}
	return tag.RowsAffected(), nil
}

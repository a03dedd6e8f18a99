package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/webhook"
	"github.com/hookd/hookd/webhook/webhooktest"
)

// idemSchema creates a schema in the test database, dropped when the test ends, and
// returns the database's DSN and the schema's name.
func idemSchema(t *testing.T) (dsn, schema string) {
	t.Helper()
	dsn = testDSN(t)
	schema = newSchema(t, dsn)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to HOOKD_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return dsn, schema
}

// openIdempotencyStore opens a store with schema first in the search_path, reading
// the time from now.
func openIdempotencyStore(t *testing.T, dsn, schema string, now func() time.Time) (*postgres.IdempotencyStore, *pgxpool.Pool) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := postgres.NewIdempotencyStore(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewIdempotencyStore(ctx, pool); err != nil {
		t.Fatalf("second NewIdempotencyStore on the same database: %v", err)
	}
	s.Now = now
	return s, pool
}

// TestIdempotencyStore runs the cases every webhook.IdempotencyStore must pass, then
// the PostgreSQL store's own.
func TestIdempotencyStore(t *testing.T) {
	testDSN(t)
	webhooktest.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) webhook.IdempotencyStore {
		dsn, schema := idemSchema(t)
		s, _ := openIdempotencyStore(t, dsn, schema, now)
		return s
	})

	t.Run("purge", func(t *testing.T) {
		ctx := t.Context()
		clock := webhooktest.NewClock(time.Unix(1674087231, 0))
		dsn, schema := idemSchema(t)
		s, pool := openIdempotencyStore(t, dsn, schema, clock.Now)
		for _, key := range []string{"a", "b"} {
			if _, err := s.Claim(ctx, key, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Complete(ctx, "done", time.Minute); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour) // every key above has expired
		if err := s.Complete(ctx, "kept", 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		n, err := s.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("purged %d rows, want 3", n)
		}
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_idempotency`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 1 {
			t.Errorf("%d rows left, want 1", left)
		}
	})

	t.Run("shared by two pools, as by two processes", func(t *testing.T) {
		ctx := t.Context()
		clock := webhooktest.NewClock(time.Unix(1674087231, 0))
		dsn, schema := idemSchema(t)
		one, _ := openIdempotencyStore(t, dsn, schema, clock.Now)
		two, _ := openIdempotencyStore(t, dsn, schema, clock.Now)
		if err := one.Complete(ctx, "a", 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := one.Claim(ctx, "b", time.Minute); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]webhook.ClaimState{"a": webhook.Completed, "b": webhook.InFlight} {
			if got, err := two.Claim(ctx, key, time.Minute); err != nil || got != want {
				t.Errorf("Claim(%q) through another pool = %v, %v; want %v", key, got, err, want)
			}
		}
	})
}

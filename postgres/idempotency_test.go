package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/webhook"
)

// idemClock is a clock the tests move by hand.
type idemClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *idemClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *idemClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// idemPool connects to HOOKD_TEST_POSTGRES with a fresh schema first in the
// search_path, dropped when the test ends.
func idemPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv("HOOKD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set HOOKD_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run PostgreSQL tests")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to HOOKD_TEST_POSTGRES: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "idem_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func openIdempotencyStore(t *testing.T) (*postgres.IdempotencyStore, *pgxpool.Pool, *idemClock) {
	t.Helper()
	pool := idemPool(t)
	ctx := context.Background()
	s, err := postgres.NewIdempotencyStore(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewIdempotencyStore(ctx, pool); err != nil {
		t.Fatalf("second NewIdempotencyStore on the same database: %v", err)
	}
	clock := &idemClock{now: time.Unix(1674087231, 0)}
	s.Now = clock.Now
	return s, pool, clock
}

func TestIdempotencyStore(t *testing.T) {
	s, pool, clock := openIdempotencyStore(t)
	ctx := context.Background()
	const day = 24 * time.Hour

	claim := func(key string) func() (webhook.ClaimState, error) {
		return func() (webhook.ClaimState, error) { return s.Claim(ctx, key, time.Minute) }
	}
	steps := []struct {
		name    string
		advance time.Duration
		do      func() (webhook.ClaimState, error)
		want    webhook.ClaimState
	}{
		{"first claim", 0, claim("a"), webhook.Claimed},
		{"claim while in flight", 0, claim("a"), webhook.InFlight},
		{"other key", 0, claim("b"), webhook.Claimed},
		{"lease expired", time.Minute, claim("a"), webhook.Claimed},
		{"complete for a week", 0, func() (webhook.ClaimState, error) { return 0, s.Complete(ctx, "a", 7*day) }, 0},
		{"claim completed", 0, claim("a"), webhook.Completed},
		{"still completed after six days", 6 * day, claim("a"), webhook.Completed},
		{"forgotten after the window", day + time.Second, claim("a"), webhook.Claimed},
		{"release", 0, func() (webhook.ClaimState, error) { return 0, s.Release(ctx, "a") }, 0},
		{"claim released", 0, claim("a"), webhook.Claimed},
		{"release unknown key", 0, func() (webhook.ClaimState, error) { return 0, s.Release(ctx, "nope") }, 0},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Fatalf("%s: state %v, want %v", st.name, got, st.want)
		}
	}

	t.Run("purge", func(t *testing.T) {
		clock.Advance(time.Hour)
		if err := s.Complete(ctx, "kept", day); err != nil {
			t.Fatal(err)
		}
		n, err := s.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("purged %d rows, want 2", n)
		}
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_idempotency`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 1 {
			t.Errorf("%d rows left, want 1", left)
		}
	})
}

func TestIdempotencyStoreConcurrentClaims(t *testing.T) {
	s, _, _ := openIdempotencyStore(t)
	for round := range 5 {
		key := fmt.Sprint("msg_", round)
		var winners atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := s.Claim(context.Background(), key, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if st == webhook.Claimed {
					winners.Add(1)
				}
			}()
		}
		wg.Wait()
		if winners.Load() != 1 {
			t.Errorf("%s: %d winners, want 1", key, winners.Load())
		}
	}
}

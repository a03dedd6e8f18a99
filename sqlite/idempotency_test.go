package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/webhook"
	"github.com/hookd/hookd/webhook/webhooktest"
)

// openIdempotencyStore opens a store in the SQLite file path (a new one in a
// temporary directory when empty), reading the time from now.
func openIdempotencyStore(t *testing.T, path string, now func() time.Time) (*sqlite.IdempotencyStore, *sql.DB) {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "idem.db")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	s, err := sqlite.NewIdempotencyStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.NewIdempotencyStore(ctx, db); err != nil {
		t.Fatalf("second NewIdempotencyStore on the same database: %v", err)
	}
	s.Now = now
	return s, db
}

// TestIdempotencyStore runs the cases every webhook.IdempotencyStore must pass, then
// the SQLite store's own.
func TestIdempotencyStore(t *testing.T) {
	webhooktest.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) webhook.IdempotencyStore {
		s, _ := openIdempotencyStore(t, "", now)
		return s
	})

	t.Run("purge", func(t *testing.T) {
		ctx := t.Context()
		clock := webhooktest.NewClock(time.Unix(1674087231, 0))
		s, db := openIdempotencyStore(t, "", clock.Now)
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
		if err := db.QueryRow(`SELECT count(*) FROM webhook_idempotency`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 1 {
			t.Errorf("%d rows left, want 1", left)
		}
	})

	t.Run("kept across a reopen", func(t *testing.T) {
		ctx := t.Context()
		clock := webhooktest.NewClock(time.Unix(1674087231, 0))
		path := filepath.Join(t.TempDir(), "idem.db")
		s, db := openIdempotencyStore(t, path, clock.Now)
		if err := s.Complete(ctx, "a", 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, "b", time.Minute); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s, _ = openIdempotencyStore(t, path, clock.Now)
		for key, want := range map[string]webhook.ClaimState{"a": webhook.Completed, "b": webhook.InFlight} {
			if got, err := s.Claim(ctx, key, time.Minute); err != nil || got != want {
				t.Errorf("after a reopen, Claim(%q) = %v, %v; want %v", key, got, err, want)
			}
		}
	})
}

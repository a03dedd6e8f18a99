package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
)

// TestPayloadPurgeCursor checks the payload purge's walk from its cursor: messages
// with one expiry time are taken in ID order across batches, a message locked by a
// resend is neither skipped for good nor passed (the cursor waits before it), a
// cleared message is not taken again, and new message partitions leave room for
// the cleared versions (fillfactor).
func TestPayloadPurgeCursor(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4, Schema: newSchema(t, dsn), PartitionWidth: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	gen := hookd.IDGen{}
	app := &hookd.Application{ID: gen.New(hookd.PrefixApp), Name: "app", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	expiry := now.Add(time.Minute).Truncate(time.Millisecond)
	var ms []*hookd.Message
	for i := range 5 {
		m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: app.ID, EventType: "a",
			Payload: []byte(`{"n":1}`), Timestamp: now, PayloadExpiresAt: expiry}
		if i == 4 {
			m.PayloadExpiresAt = expiry.Add(time.Second) // later than the rest
		}
		if _, err := s.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	// The first four share one expiry; the purge takes them by ID.
	slices.SortFunc(ms[:4], func(a, b *hookd.Message) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	expired := func(m *hookd.Message) bool {
		t.Helper()
		got, err := s.Message(ctx, app.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.PayloadExpired()
	}
	purge := func(limit int) int {
		t.Helper()
		n, err := s.PurgePayloads(ctx, expiry.Add(time.Hour), limit)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	if n := purge(1); n != 1 || !expired(ms[0]) || expired(ms[1]) {
		t.Fatalf("first batch of 1: %d, purged %v %v; want the lowest ID of the tie only", n, expired(ms[0]), expired(ms[1]))
	}
	// A resend holds ms[2] (FOR SHARE): the batch clears ms[1] and stops before it.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM messages WHERE id = $1 FOR SHARE`, ms[2].ID); err != nil {
		t.Fatal(err)
	}
	if n := purge(10); n != 1 {
		t.Errorf("batch beside a locked message = %d, want 1 (short, so that the round ends)", n)
	}
	if !expired(ms[1]) || expired(ms[2]) || expired(ms[3]) {
		t.Errorf("beside the locked message: purged %v %v %v, want true false false", expired(ms[1]), expired(ms[2]), expired(ms[3]))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := purge(10); n != 3 {
		t.Errorf("batch after the lock = %d, want 3", n)
	}
	for i, m := range ms {
		if !expired(m) {
			t.Errorf("message %d kept its payload after the purge", i)
		}
	}
	if n := purge(10); n != 0 {
		t.Errorf("purge after all were cleared = %d, want 0", n)
	}

	var opts []string
	if err := s.Pool().QueryRow(ctx, `SELECT coalesce(c.reloptions, '{}') FROM messages m JOIN pg_class c ON c.oid = m.tableoid
		WHERE m.id = $1`, ms[0].ID).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(opts, "fillfactor=90") {
		t.Errorf("the message partition's options are %v, want fillfactor=90", opts)
	}
}

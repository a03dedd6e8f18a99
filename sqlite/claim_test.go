package sqlite_test

import (
	"context"
	"testing"
	"time"
)

// TestClaimSkipsOrphanDelivery stores a delivery whose message is missing (foreign
// keys off, as a damaged or hand-edited file could have it) beside a sound one: the
// claim hands out the sound one and leaves the orphan alone instead of failing.
func TestClaimSkipsOrphanDelivery(t *testing.T) {
	ctx := context.Background()
	f := newBenchFixture(t)
	if err := f.create(ctx); err != nil {
		t.Fatal(err)
	}
	db := f.s.DB()
	us := time.Now().UnixMicro()
	for _, q := range []string{
		`PRAGMA foreign_keys = OFF`,
		`INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, next_attempt, created_at, updated_at)
			VALUES ('dlv_orphan', '` + f.app.ID + `', 'msg_gone', '` + f.ep.ID + `', 1, 0, 0, 0)`,
		`PRAGMA foreign_keys = ON`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ds, err := f.s.ClaimDeliveries(ctx, time.UnixMicro(us).Add(time.Second), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].MsgID == "msg_gone" || ds[0].Message == nil {
		t.Fatalf("claimed %+v, want the one sound delivery with its message", ds)
	}
	var status int
	if err := db.QueryRowContext(ctx, `SELECT status FROM deliveries WHERE id = 'dlv_orphan'`).Scan(&status); err != nil || status != 1 {
		t.Fatalf("orphan status %d (%v), want it left pending", status, err)
	}
}

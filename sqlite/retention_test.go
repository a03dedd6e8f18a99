package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// TestPurgeLeavesNoRows checks that deleting messages (the retention purge, and
// deleting their application) takes every row that belongs to them: deliveries, tags
// and channels have no foreign key to messages that would cascade.
func TestPurgeLeavesNoRows(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	ids := hookd.IDGen{}
	now := time.Now()
	count := func(table string) int {
		t.Helper()
		var n int
		if err := s.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tables := []string{"messages", "deliveries", "attempts", "message_tags", "message_channels"}
	for _, purge := range []string{"PurgeMessages", "DeleteApp"} {
		app := &hookd.Application{ID: ids.New(hookd.PrefixApp), Name: "a", CreatedAt: now, UpdatedAt: now}
		if err := s.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
		ep := &hookd.Endpoint{ID: ids.New(hookd.PrefixEndpoint), AppID: app.ID, URL: "https://example.com/hook",
			CreatedAt: now, UpdatedAt: now}
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			m := &hookd.Message{ID: ids.New(hookd.PrefixMessage), AppID: app.ID, EventType: "a.b",
				Payload: []byte(`{}`), Tags: []string{"t1", "t2"}, Channels: []string{"c1"}, Timestamp: now}
			d := &hookd.Delivery{ID: ids.New(hookd.PrefixDelivery), AppID: app.ID, MsgID: m.ID, EndpointID: ep.ID,
				Status: hookd.StatusPending, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
			if _, err := s.CreateMessage(ctx, m, []*hookd.Delivery{d}); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := s.ClaimDeliveries(ctx, now.Add(time.Second), time.Minute, 10)
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claimed %d, %v; want 3", len(claimed), err)
		}
		var rs []hookd.AttemptResult
		for _, d := range claimed {
			rs = append(rs, hookd.AttemptResult{Delivery: d, Status: hookd.StatusSuccess, NextAttempt: now, Attempts: 1,
				Attempt: &hookd.Attempt{ID: ids.New(hookd.PrefixAttempt), URL: ep.URL, Status: hookd.StatusSuccess,
					ResponseStatusCode: 200, Timestamp: now}})
		}
		if err := s.RecordAttempts(ctx, rs); err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			if n := count(table); n == 0 {
				t.Fatalf("%s: no rows before the purge", table)
			}
		}
		switch purge {
		case "PurgeMessages":
			if n, err := s.PurgeMessages(ctx, now.Add(time.Hour), 100); err != nil || n != 3 {
				t.Fatalf("PurgeMessages = %d, %v; want 3", n, err)
			}
		case "DeleteApp":
			if err := s.DeleteApp(ctx, app.ID); err != nil {
				t.Fatal(err)
			}
		}
		for _, table := range tables {
			if n := count(table); n != 0 {
				t.Errorf("%s: %d rows left after %s", table, n, purge)
			}
		}
	}
}

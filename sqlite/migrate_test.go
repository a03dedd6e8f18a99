package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// TestMigrationKeepsDeliveries builds a database as the first two migrations left it,
// with a message, its deliveries and an attempt, and opens it: the later migrations
// rebuild the delivery and attempt tables, and everything must still be there and
// work (claimed, recorded, listed).
func TestMigrationKeepsDeliveries(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
	for i, name := range []string{"0001_init.sql", "0002_nodes.sql"} {
		body, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		exec(string(body))
		exec(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, i+1, name)
	}
	now := time.Now().Truncate(time.Microsecond)
	us := now.UnixMicro()
	exec(`INSERT INTO applications (id, name, created_at, updated_at) VALUES ('app_1', 'a', ?1, ?1)`, us)
	exec(`INSERT INTO endpoints (id, app_id, url, secrets, created_at, updated_at)
		VALUES ('ep_1', 'app_1', 'https://example.com/1', '[]', ?1, ?1), ('ep_2', 'app_1', 'https://example.com/2', '[]', ?1, ?1)`, us)
	exec(`INSERT INTO messages (id, app_id, event_type, payload, timestamp) VALUES ('msg_1', 'app_1', 'a.b', '{"k":1}', ?)`, us)
	exec(`INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, created_at, updated_at)
		VALUES ('dlv_1', 'app_1', 'msg_1', 'ep_1', 0, 1, ?1, ?1, ?1), ('dlv_2', 'app_1', 'msg_1', 'ep_2', 1, 1, ?1, ?1, ?1)`, us)
	exec(`INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, response_status_code, timestamp)
		VALUES ('atmpt_1', 'app_1', 'msg_1', 'ep_1', 'https://example.com/1', 0, 200, ?)`, us)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ds, err := s.MessageDeliveries(ctx, "app_1", "msg_1", hookd.Page{Limit: 10, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].ID != "dlv_1" || ds[0].Status != hookd.StatusSuccess || ds[1].ID != "dlv_2" || ds[1].Status != hookd.StatusPending {
		t.Fatalf("deliveries after migration: %+v", ds)
	}
	a, err := s.Attempt(ctx, "app_1", "msg_1", "atmpt_1")
	if err != nil || a.ResponseStatusCode != 200 {
		t.Fatalf("attempt after migration: %+v, %v", a, err)
	}
	claimed, err := s.ClaimDeliveries(ctx, now.Add(time.Second), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != "dlv_2" || string(claimed[0].Message.Payload) != `{"k":1}` {
		t.Fatalf("claim after migration: %+v, %v", claimed, err)
	}
	d := claimed[0]
	at := now.Add(2 * time.Second)
	err = s.RecordAttempts(ctx, []hookd.AttemptResult{{
		Delivery: d, Status: hookd.StatusSuccess, NextAttempt: at, Attempts: 2,
		Attempt: &hookd.Attempt{ID: "atmpt_2", AppID: "app_1", MsgID: "msg_1", EndpointID: "ep_2",
			URL: "https://example.com/2", Status: hookd.StatusSuccess, ResponseStatusCode: 204, Timestamp: at},
	}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.EndpointStats(ctx, "app_1", "ep_2", "", "")
	if err != nil || st.Success != 1 {
		t.Fatalf("stats of ep_2 after recording: %+v, %v", st, err)
	}
}

package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
)

// TestAttemptPartitionMigration migrates a database made before retention (the
// schema just before its migration, attempts a plain table with rows in it) and checks that the rows are in
// the partitioned attempt log, that partitions are made ahead, and that dropping
// expired partitions removes exactly the old rows.
func TestAttemptPartitionMigration(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize())
	exec("SET search_path TO " + pgx.Identifier{schema}.Sanitize())
	exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL)`)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	before := 0 // the retention migration's version: those below it make the old schema
	for _, f := range files {
		if strings.HasSuffix(f, "_retention.sql") {
			before, _ = strconv.Atoi(filepath.Base(f)[:4])
		}
	}
	for _, f := range files {
		name := filepath.Base(f)
		if v, err := strconv.Atoi(name[:4]); err != nil || v >= before {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(b))
		v, _ := strconv.Atoi(name[:4])
		exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, v, strings.TrimSuffix(name[5:], ".sql"))
	}
	old := time.Now().Add(-48 * time.Hour)
	gen := hookd.IDGen{Now: func() time.Time { return old }}
	appID, msgID, attemptID := gen.New(hookd.PrefixApp), gen.New(hookd.PrefixMessage), gen.New(hookd.PrefixAttempt)
	exec(`INSERT INTO apps (id, name, created_at, updated_at) VALUES ($1, 'old', $2, $2)`, appID, old)
	exec(`INSERT INTO messages (id, app_id, event_type, payload, timestamp) VALUES ($1, $2, 'a', '{}', $3)`, msgID, appID, old)
	exec(`INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, response, timestamp, headers)
		VALUES ($1, $2, $3, 'ep_x', 'https://example.com', 0, 'kept body', $4, '')`, attemptID, appID, msgID, old)

	s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4, Schema: schema, PartitionWidth: time.Hour})
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	t.Cleanup(func() { s.Close() })
	var fks int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f'
		AND confrelid = 'messages'::regclass AND conrelid IN (SELECT relid FROM pg_partition_tree('attempts'))`).Scan(&fks); err != nil {
		t.Fatal(err)
	}
	if fks != 0 {
		t.Errorf("the attempt log still has %d foreign keys to messages, want none", fks)
	}
	a, err := s.Attempt(ctx, appID, msgID, attemptID)
	if err != nil {
		t.Fatalf("attempt from before the migration: %v", err)
	}
	if a.Response != "kept body" {
		t.Fatalf("attempt from before the migration: %+v", a)
	}
	parts := func() []string {
		t.Helper()
		rows, err := s.Pool().Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'attempts'::regclass ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	var p0 string
	for _, n := range parts() {
		if strings.HasPrefix(n, "attempts_p0_") {
			p0 = n
		}
	}
	if p0 == "" || len(parts()) < 4 {
		t.Fatalf("partitions after the migration: %v; want the old rows' one, the default and those ahead", parts())
	}
	// A new attempt goes to a partition made ahead, not to the default one.
	var where string
	// (The old rows' partition ends within a second of the migration.)
	soon := time.Now().Add(2 * time.Second)
	newID := hookd.IDGen{Now: func() time.Time { return soon }}.New(hookd.PrefixAttempt)
	if _, err := s.Pool().Exec(ctx, `INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, timestamp)
		VALUES ($1, $2, $3, 'ep_x', 'https://example.com', 0, now())`, newID, appID, msgID); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT tableoid::regclass::text FROM attempts WHERE id = $1`, newID).Scan(&where); err != nil {
		t.Fatal(err)
	}
	if where == "attempts_default" || where == p0 {
		t.Fatalf("a new attempt went to %s, want a partition made ahead", where)
	}
	// An attempt no partition covers yet waits in the default partition and moves
	// into its own once that is made.
	ahead := time.Now().Add(30 * time.Hour)
	farID := hookd.IDGen{Now: func() time.Time { return ahead }}.New(hookd.PrefixAttempt)
	if _, err := s.Pool().Exec(ctx, `INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, timestamp)
		VALUES ($1, $2, $3, 'ep_x', 'https://example.com', 0, now())`, farID, appID, msgID); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT tableoid::regclass::text FROM attempts WHERE id = $1`, farID).Scan(&where); err != nil {
		t.Fatal(err)
	}
	if where != "attempts_default" {
		t.Fatalf("an attempt 30 h ahead went to %s, want attempts_default", where)
	}
	if err := s.ReclaimSpace(ctx, time.Time{}, ahead); err != nil {
		t.Fatalf("ReclaimSpace over the default partition's rows: %v", err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT tableoid::regclass::text FROM attempts WHERE id = $1`, farID).Scan(&where); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(where, "attempts_p") {
		t.Fatalf("the attempt ahead is in %s after its partition was made, want that partition", where)
	}
	if _, err := s.Attempt(ctx, appID, msgID, farID); err != nil {
		t.Fatalf("the moved attempt: %v", err)
	}

	// Dropping what is older than now keeps the new attempt and removes the old one.
	if err := s.ReclaimSpace(ctx, soon.Add(-time.Second), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, n := range parts() {
		if n == p0 {
			t.Fatalf("partition %s of the old rows not dropped: %v", p0, parts())
		}
	}
	if _, err := s.Attempt(ctx, appID, msgID, attemptID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
		t.Fatalf("old attempt after its partition was dropped: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM attempts WHERE id = $1`, newID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("new attempt after the drop: %d rows, %v", n, err)
	}
}

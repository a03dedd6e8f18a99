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

// TestMessagePartitions checks that the metadata purge drops a message partition
// whole once every ID in it is past the retention (with its deliveries, tags,
// channels, eventIds and later attempts), keeps a partition that reaches past the
// cutoff even by a millisecond, and keeps a partition with a delivery still due,
// deleting its other messages row by row, until that delivery is done.
func TestMessagePartitions(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4, Schema: newSchema(t, dsn), PartitionWidth: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Three whole partitions made ahead at Open: [a, a+1h), [a+1h, a+2h), [a+2h, a+3h).
	a := time.Now().Add(time.Hour).Truncate(time.Hour).Add(time.Hour)
	if err := s.ReclaimSpace(ctx, time.Time{}, a.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	at := func(t time.Time) hookd.IDGen { return hookd.IDGen{Now: func() time.Time { return t }} }
	now := time.Now()
	app := &hookd.Application{ID: at(now).New(hookd.PrefixApp), Name: "app", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: at(now).New(hookd.PrefixEndpoint), AppID: app.ID, URL: "https://example.com/hook",
		Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	message := func(when time.Time, status hookd.Status, eventID string) (*hookd.Message, *hookd.Delivery) {
		t.Helper()
		m := &hookd.Message{ID: at(when).New(hookd.PrefixMessage), AppID: app.ID, EventType: "a", EventID: eventID,
			Payload: []byte(`{}`), Tags: []string{"t"}, Channels: []string{"c"}, Timestamp: when}
		d := &hookd.Delivery{ID: at(when).New(hookd.PrefixDelivery), AppID: app.ID, MsgID: m.ID, EndpointID: ep.ID,
			Status: status, NextAttempt: when, CreatedAt: when, UpdatedAt: when}
		if _, err := s.CreateMessage(ctx, m, []*hookd.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		return m, d
	}
	gone, goneD := message(a.Add(time.Minute), hookd.StatusPending, "evt-a")
	deleted, _ := message(a.Add(2*time.Hour-time.Millisecond), hookd.StatusSuccess, "")
	due, dueD := message(a.Add(time.Hour+time.Minute), hookd.StatusPending, "")
	kept, _ := message(a.Add(2*time.Hour), hookd.StatusSuccess, "evt-c")
	// The first message's delivery succeeds on a retry in a later attempt partition.
	retry := a.Add(time.Hour + 30*time.Minute)
	attempt := &hookd.Attempt{ID: at(retry).New(hookd.PrefixAttempt), AppID: app.ID, MsgID: gone.ID, EndpointID: ep.ID,
		URL: ep.URL, Status: hookd.StatusSuccess, ResponseStatusCode: 200, Timestamp: retry}
	if err := s.RecordAttempts(ctx, []hookd.AttemptResult{{Delivery: goneD, Attempt: attempt,
		Status: hookd.StatusSuccess, NextAttempt: retry, Attempts: 1}}); err != nil {
		t.Fatal(err)
	}

	exists := func(table string) bool {
		t.Helper()
		var ok bool
		if err := s.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	suffix := func(from time.Time) string {
		return "_p" + strconv.FormatInt(from.UnixMilli(), 10) + "_" + strconv.FormatInt(from.Add(time.Hour).UnixMilli(), 10)
	}
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := s.Pool().QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cutoff := a.Add(2 * time.Hour) // kept's partition starts here
	n, err := s.PurgeMessages(ctx, cutoff, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("PurgeMessages deleted %d rows, want 1 (the done message beside the due one)", n)
	}
	for _, table := range []string{"messages", "deliveries", "message_tags", "message_channels"} {
		if exists(table + suffix(a)) {
			t.Errorf("%s%s not dropped", table, suffix(a))
		}
		if !exists(table + suffix(a.Add(time.Hour))) {
			t.Errorf("%s%s dropped, but a delivery in it is due", table, suffix(a.Add(time.Hour)))
		}
		if !exists(table + suffix(cutoff)) {
			t.Errorf("%s%s, which reaches past the cutoff, dropped", table, suffix(cutoff))
		}
	}
	for _, m := range []*hookd.Message{gone, deleted} {
		if _, err := s.Message(ctx, app.ID, m.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("message %s past the retention: %v, want not found", m.ID, err)
		}
	}
	for _, m := range []*hookd.Message{due, kept} {
		if _, err := s.Message(ctx, app.ID, m.ID); err != nil {
			t.Errorf("message %s kept: %v", m.ID, err)
		}
	}
	if n := count(`SELECT count(*) FROM attempts WHERE msg_id = $1`, gone.ID); n != 0 {
		t.Errorf("%d attempts of the dropped message left, want 0", n)
	}
	if n := count(`SELECT count(*) FROM message_tags WHERE msg_id = ANY($1)`, []string{gone.ID, deleted.ID}); n != 0 {
		t.Errorf("%d tags of the purged messages left, want 0", n)
	}
	// The eventId of a dropped message is free again; one within retention is not.
	again, _ := message(a.Add(2*time.Hour+time.Minute), hookd.StatusSuccess, "evt-a")
	if got, err := s.Message(ctx, app.ID, "evt-a"); err != nil || got.ID != again.ID {
		t.Errorf("eventId of a dropped message, used again: %v, %v", got, err)
	}
	dup := &hookd.Message{ID: at(a.Add(2*time.Hour + 2*time.Minute)).New(hookd.PrefixMessage), AppID: app.ID, EventType: "a",
		EventID: "evt-c", Payload: []byte(`{}`), Timestamp: now}
	if prev, err := s.CreateMessage(ctx, dup, nil); hookd.ErrorCode(err) != hookd.ECONFLICT || prev == nil || prev.ID != kept.ID {
		t.Errorf("eventId within retention used again: %v, %v; want a conflict with %s", prev, err, kept.ID)
	}

	// Once its delivery is done the kept partition goes too.
	if err := s.RecordAttempts(ctx, []hookd.AttemptResult{{Delivery: dueD, Status: hookd.StatusSuccess,
		NextAttempt: retry, Attempts: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeMessages(ctx, cutoff, 100); err != nil {
		t.Fatal(err)
	}
	if exists("messages" + suffix(a.Add(time.Hour))) {
		t.Error("partition with its delivery done not dropped")
	}
	if _, err := s.Message(ctx, app.ID, kept.ID); err != nil {
		t.Errorf("message within retention: %v", err)
	}
}

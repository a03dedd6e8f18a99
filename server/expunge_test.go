package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookd/hookd/server"
)

// marker returns a unique byte sequence to put in a payload and look for.
func marker(t *testing.T, name string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "gdpr" + name + hex.EncodeToString(b)
}

// TestExpungeLeavesNoCopy erases messages through every expunge route (DELETE
// …/content, bulk-expunge, expunge-all-contents by event type, the operator's expunge
// across applications, the last with compact) on SQLite and PostgreSQL, with a receiver that echoes each
// payload into its response and an Idempotency-Key on each send, then scans the
// store's files and tables: no byte sequence of an erased payload is left, while the
// payload of a message kept is found (so the scan can see one).
func TestExpungeLeavesNoCopy(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	t.Cleanup(echo.Close)
	var dbPath, pgDSN string
	t.Run("sqlite", func(t *testing.T) {
		dbPath = filepath.Join(t.TempDir(), "hookd.db")
		ts := startServer(t, func(c *server.Config) { c.DB = dbPath })
		expungeAndScan(t, ts, echo.URL, func(t *testing.T) []byte {
			var all []byte
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				b, err := os.ReadFile(dbPath + suffix)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			return all
		}, func(t *testing.T) {
			// After a clean close too (the WAL is checkpointed into the file).
			if err := ts.srv.Close(); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		pgDSN = postgresDB(t)
		ts := startServer(t, func(c *server.Config) { c.DB = pgDSN })
		expungeAndScan(t, ts, echo.URL, func(t *testing.T) []byte { return postgresBytes(t, pgDSN) }, nil)
	})
}

// expungeAndScan runs the erase scenario on ts; scan returns the store's bytes (its
// files, or its tables' rows and files), read after each erase has finished, and again
// after after, if given.
func expungeAndScan(t *testing.T, ts *testServer, receiver string, scan func(*testing.T) []byte, after func(*testing.T)) {
	ctx := t.Context()
	for _, uid := range []string{"acme", "other"} {
		if _, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: uid, Uid: ptr(uid)}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.client.Endpoint.Create(ctx, uid, svix.EndpointIn{Url: receiver}, nil); err != nil {
			t.Fatal(err)
		}
	}
	type sent struct {
		app, eventType, eventID, marker string
		id                              string
		erase                           bool
	}
	msgs := map[string]*sent{
		"single": {app: "acme", eventType: "user.updated", erase: true},
		"bulk":   {app: "acme", eventType: "user.updated", eventID: "evt-bulk", erase: true},
		"type":   {app: "acme", eventType: "user.erased", erase: true},
		"other":  {app: "other", eventType: "user.updated", erase: true},
		"kept":   {app: "acme", eventType: "user.updated"},
	}
	for name, m := range msgs {
		m.marker = marker(t, name)
		body := fmt.Sprintf(`{"eventType":%q,"payload":{"secret":%q}`, m.eventType, m.marker)
		if m.eventID != "" {
			body += fmt.Sprintf(`,"eventId":%q`, m.eventID)
		}
		code, b := ts.raw(t, "POST", "/api/v1/app/"+m.app+"/msg", body+"}", "Idempotency-Key", "key-"+name)
		if code != http.StatusAccepted {
			t.Fatalf("send %s: %d %s", name, code, b)
		}
		var out struct{ ID string }
		decodeJSON(t, b, &out)
		m.id = out.ID
	}
	// Each message's attempt holds the echoed payload in its response body.
	for name, m := range msgs {
		waitFor(t, "the attempt of "+name, func() bool {
			as, err := ts.client.MessageAttempt.ListByMsg(ctx, m.app, m.id, nil)
			return err == nil && len(as.Data) == 1 && strings.Contains(as.Data[0].Response, m.marker)
		})
	}
	before := scan(t)
	for name, m := range msgs {
		if !bytes.Contains(before, []byte(m.marker)) {
			t.Fatalf("the scan does not find the payload of %s before the erase", name)
		}
	}

	if err := ts.client.Message.ExpungeContent(ctx, "acme", msgs["single"].id); err != nil {
		t.Fatal(err)
	}
	code, b := ts.raw(t, "POST", "/api/v1/app/acme/msg/bulk-expunge", `{"ids":["evt-bulk","no-such-message"]}`)
	if code != http.StatusOK || !strings.Contains(string(b), `"evt-bulk":"expunged"`) || !strings.Contains(string(b), `"no-such-message":"not-found"`) {
		t.Fatalf("bulk-expunge: %d %s", code, b)
	}
	code, b = ts.raw(t, "POST", "/api/v1/app/acme/msg/expunge-all-contents", `{"eventTypes":["user.erased"]}`)
	if code != http.StatusAccepted {
		t.Fatalf("expunge-all-contents: %d %s", code, b)
	}
	var task taskOut
	decodeJSON(t, b, &task)
	if task = waitExpungeTask(t, ts, task.ID); task.Status != "finished" || task.Task != "application.purge_content" {
		t.Fatalf("expunge-all-contents task: %+v", task)
	}
	code, b = ts.raw(t, "POST", "/api/v1/msg/expunge-all-contents", `{"appIds":["other"],"compact":true}`)
	if code != http.StatusAccepted {
		t.Fatalf("expunge across applications: %d %s", code, b)
	}
	decodeJSON(t, b, &task)
	if task = waitExpungeTask(t, ts, task.ID); task.Status != "finished" {
		t.Fatalf("expunge across applications: %+v", task)
	}

	for name, m := range msgs {
		got, err := ts.client.Message.Get(ctx, m.app, m.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if erased := len(got.Payload) == 0; erased != m.erase {
			t.Errorf("%s: payload %v after the erase, want erased %v", name, got.Payload, m.erase)
		}
	}
	check := func(when string, data []byte) {
		for name, m := range msgs {
			if found := bytes.Contains(data, []byte(m.marker)); found == m.erase {
				t.Errorf("%s: the payload of %s (erase %v) is found %v", when, name, m.erase, found)
			}
		}
	}
	check("after the erase", scan(t))
	if after != nil {
		after(t)
		check("after closing", scan(t))
	}
}

// waitExpungeTask waits up to two minutes for a task to end: on PostgreSQL its
// reclaim waits for the transactions older than it, which other tests sharing the
// database may hold for a while.
func waitExpungeTask(t *testing.T, ts *testServer, id string) taskOut {
	t.Helper()
	for range 1200 {
		code, b := ts.raw(t, "GET", "/api/v1/background-task/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("get task %s: %d %s", id, code, b)
		}
		var out taskOut
		decodeJSON(t, b, &out)
		if out.Status != "running" {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("task %s still running after 2 minutes", id)
	return taskOut{}
}

// postgresBytes returns, for the schema of dsn (its search_path), every row of every
// table as text, bytea columns as they are, and the bytes of every relation file
// (tables, TOAST tables, indexes) after a CHECKPOINT.
func postgresBytes(t *testing.T, dsn string) []byte {
	t.Helper()
	ctx := context.Background()
	schema := dsn[strings.LastIndex(dsn, "search_path=")+len("search_path="):]
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var out bytes.Buffer
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		id := pgx.Identifier{schema, table}.Sanitize()
		rows, err := conn.Query(ctx, `SELECT x::text FROM `+id+` x`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			out.WriteString(s)
		}
		rows, err = conn.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'`, schema, table)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range cols {
			rows, err := conn.Query(ctx, `SELECT coalesce(`+pgx.Identifier{col}.Sanitize()+`, '') FROM `+id)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				out.Write(v)
			}
		}
	}
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	rows, err = conn.Query(ctx, `SELECT pg_read_binary_file(pg_relation_filepath(c.oid))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE (n.nspname = $1 OR c.oid IN (SELECT reltoastrelid FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE tn.nspname = $1)
			OR c.oid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid WHERE t.reltoastrelid <> 0 AND t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)))
			AND c.relkind IN ('r', 't', 'i') AND pg_relation_filepath(c.oid) IS NOT NULL`, schema)
	if err != nil {
		t.Fatal(err)
	}
	files, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no relation files read")
	}
	if os.Getenv("HOOKD_EXPUNGE_DIAG") != "" {
		t.Logf("rows: %q", out.String())
		rows, _ := conn.Query(ctx, `SELECT c.relname, c.relkind, pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r','t','i')`, schema)
		for rows.Next() {
			var n, k, fp string
			rows.Scan(&n, &k, &fp)
			var hit bool
			conn2, _ := pgx.Connect(ctx, dsn)
			conn2.QueryRow(ctx, `SELECT position(convert_to('gdpr','UTF8') in pg_read_binary_file($1)) > 0`, fp).Scan(&hit)
			conn2.Close(ctx)
			if hit {
				t.Logf("gdpr in %s (%s) %s", n, k, fp)
			}
		}
		rows.Close()
	}
	for _, f := range files {
		out.Write(f)
	}
	return out.Bytes()
}

// TestExpungeBadInput checks that the expunge routes refuse what they cannot do with a
// 4xx that names the field.
func TestExpungeBadInput(t *testing.T) {
	ts := startServer(t)
	if _, err := ts.client.Application.Create(t.Context(), svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	many := `{"ids":["m0"`
	for i := 1; i <= 1000; i++ {
		many += fmt.Sprintf(`,"m%d"`, i)
	}
	many += `]}`
	cases := []struct {
		name, path, body string
		want             int
		field            string
	}{
		{"bad id", "/api/v1/app/acme/msg/bulk-expunge", `{"ids":["a b"]}`, 422, "ids"},
		{"same id twice", "/api/v1/app/acme/msg/bulk-expunge", `{"ids":["a","a"]}`, 422, "ids"},
		{"too many ids", "/api/v1/app/acme/msg/bulk-expunge", many, 422, "ids"},
		{"no ids", "/api/v1/app/acme/msg/bulk-expunge", `{}`, 200, ""},
		{"unknown app", "/api/v1/app/nope/msg/bulk-expunge", `{"ids":["a"]}`, 404, ""},
		{"after not before before", "/api/v1/app/acme/msg/expunge-all-contents", `{"after":"2030-01-01T00:00:00Z","before":"2020-01-01T00:00:00Z"}`, 422, "after"},
		{"appIds on one app", "/api/v1/app/acme/msg/expunge-all-contents", `{"appIds":["acme"]}`, 422, "appIds"},
		{"bad event type", "/api/v1/app/acme/msg/expunge-all-contents", `{"eventTypes":["a b"]}`, 422, "eventTypes"},
		{"unknown app in appIds", "/api/v1/msg/expunge-all-contents", `{"appIds":["nope"]}`, 422, "appIds"},
		{"not JSON", "/api/v1/msg/expunge-all-contents", `{`, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, b := ts.raw(t, "POST", tc.path, tc.body)
			if code != tc.want || (tc.field != "" && !strings.Contains(string(b), tc.field)) {
				t.Errorf("POST %s %.60s: %d %s, want %d naming %q", tc.path, tc.body, code, b, tc.want, tc.field)
			}
		})
	}
}

package bench_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/bench"
)

// testPostgres returns HOOKD_TEST_POSTGRES and a connection to it, or skips the test.
func testPostgres(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	dsn := os.Getenv("HOOKD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("HOOKD_TEST_POSTGRES not set: skipping the PostgreSQL floor")
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to HOOKD_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return dsn, conn
}

// floorSchemas lists the PostgreSQL floors' schemas in the database.
func floorSchemas(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'hookd_bench_floor_%'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// floorRows counts the rows of a PostgreSQL floor: messages (and those with a key),
// attempts, and attempts found through the endpoint index that belong to a stored
// message with status code.
func floorRows(t *testing.T, conn *pgx.Conn, schema string, code int) (msgs, keyed, atts, joined int) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// The endpoint index, not a scan of the table, finds the attempts.
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = "+pgx.Identifier{schema}.Sanitize()+"; SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	q := `SELECT (SELECT count(*) FROM messages), (SELECT count(key) FROM messages),
		(SELECT count(*) FROM attempts),
		(SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.msg_id WHERE a.endpoint >= 0 AND a.status_code = $1)`
	if err := tx.QueryRow(ctx, q, code).Scan(&msgs, &keyed, &atts, &joined); err != nil {
		t.Fatal(err)
	}
	return msgs, keyed, atts, joined
}

// TestPGFloorStore is TestFloorStore on PostgreSQL: every message's row and every
// attempt are in the floor's schema once Settle returns, a repeated key is refused,
// and Close drops the schema.
func TestPGFloorStore(t *testing.T) {
	dsn, conn := testPostgres(t)
	fs, err := bench.OpenPGFloorStore(dsn)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			fs.Close()
		}
	}()
	msg := floorMessage
	const n = 300
	keepConcurrently(t, fs, n)
	// The same new key twice at once: exactly one is kept.
	var wg sync.WaitGroup
	var kept atomic.Int32
	for seq := int64(n + 2); seq < n+4; seq++ {
		wg.Go(func() {
			fresh, err := fs.Keep(seq, "key-twice", msg)
			if err != nil {
				t.Errorf("Keep(%d) of a key sent twice: %v", seq, err)
			}
			if fresh {
				kept.Add(1)
			}
		})
	}
	wg.Wait()
	if kept.Load() != 1 {
		t.Errorf("a key sent twice at once was kept %d times, want once", kept.Load())
	}
	for seq := int64(n + 4); seq < n+6; seq++ {
		if fresh, err := fs.Keep(seq, "", msg); err != nil || !fresh {
			t.Errorf("Keep without a key = %v, %v; want true, nil", fresh, err)
		}
	}
	at, err := fs.Settle()
	if err != nil || at.IsZero() {
		t.Fatalf("Settle() = %v, %v", at, err)
	}
	msgs, keyed, atts, joined := floorRows(t, conn, fs.Schema, 204)
	if msgs != n+3 || keyed != n+1 || atts != 3*n || joined != 3*n {
		t.Errorf("messages %d (%d with a key), attempts %d (%d of stored messages); want %d (%d), %d (%d)",
			msgs, keyed, atts, joined, n+3, n+1, 3*n, 3*n)
	}
	fs.Close()
	closed = true
	if s := floorSchemas(t, conn); slices.Contains(s, fs.Schema) {
		t.Errorf("schema %s still there after Close", fs.Schema)
	}
}

// TestPGFloorRelay posts through the relay on the PostgreSQL floor: a message is
// forwarded once and recorded with its attempt; a repeated key gets 409 and
// forwards nothing.
func TestPGFloorRelay(t *testing.T) {
	dsn, conn := testPostgres(t)
	var forwarded atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	fs, err := bench.OpenPGFloorStore(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := fs.StartRelay(rcv.URL)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			rl.Close()
		}
	}()
	body := []byte(`{"eventType":"hookd.bench","payload":{"n":1}}`)
	post := func(key string) int {
		req, err := http.NewRequest(http.MethodPost, rl.URL(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		key  string
		want int
	}{{"a", http.StatusAccepted}, {"a", http.StatusConflict}, {"b", http.StatusAccepted}, {"a", http.StatusConflict}} {
		if got := post(tc.key); got != tc.want {
			t.Errorf("POST with key %q: %d, want %d", tc.key, got, tc.want)
		}
	}
	rl.Drain()
	if _, err := fs.Settle(); err != nil {
		t.Fatal(err)
	}
	if got := forwarded.Load(); got != 2 {
		t.Errorf("%d forwards, want 2 (one per new key)", got)
	}
	msgs, keyed, atts, joined := floorRows(t, conn, fs.Schema, http.StatusNoContent)
	if msgs != 2 || keyed != 2 || atts != 2 || joined != 2 {
		t.Errorf("messages %d (%d with a key), attempts %d (%d of stored messages); want 2 (2), 2 (2)", msgs, keyed, atts, joined)
	}
	rl.Close()
	closed = true
	if s := floorSchemas(t, conn); slices.Contains(s, fs.Schema) {
		t.Errorf("schema %s still there after Close", fs.Schema)
	}
}

// TestPGFloor runs the PostgreSQL floor's phase in a run with --store postgres; the
// schema it made is gone afterwards.
func TestPGFloor(t *testing.T) {
	dsn, conn := testPostgres(t)
	before := floorSchemas(t, conn)
	cfg := quickConfig(startServer(t, ""))
	cfg.Store, cfg.DB = "postgres", dsn
	cfg.Messages = 100
	cfg.FloorDuration = 2 * time.Second
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p := res.Problems(); len(p) != 0 {
		t.Errorf("Problems() = %q", p)
	}
	if res.FloorDeliveries < 100 || res.FloorCommits <= 0 || res.FloorCommits > res.FloorDeliveries*2 {
		t.Errorf("floor: %d deliveries in %d commits, want at least 100 deliveries", res.FloorDeliveries, res.FloorCommits)
	}
	if res.FloorPerS <= 0 || res.FloorRatio <= 0 || res.FloorCPUPerDeliveryMS <= 0 {
		t.Errorf("floor not measured: %+v", res)
	}
	for _, s := range floorSchemas(t, conn) {
		if !slices.Contains(before, s) {
			t.Errorf("the run left schema %s", s)
		}
	}
}

package postgres_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/storetest"
)

// searchBenchEnd is the end of the benchmark data's time span, fixed so that a store
// filled once serves every later run.
var searchBenchEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkSearch measures the operator's searches (hookd.SearchStore) on a store of
// 10,000,000 attempts in the schema HOOKD_SEARCH_BENCH_SCHEMA of HOOKD_TEST_POSTGRES
// (kept and reused), or, without it, of 100,000 attempts in a temporary schema;
// HOOKD_SEARCH_BENCH_ATTEMPTS overrides the count. The store is filled by COPY on
// first use.
func BenchmarkSearch(b *testing.B) {
	dsn := testDSN(b)
	d := storetest.SearchData{Attempts: 100_000, End: searchBenchEnd}
	schema := os.Getenv("HOOKD_SEARCH_BENCH_SCHEMA")
	if schema == "" {
		schema = newSchema(b, dsn)
	} else {
		d.Attempts = 10_000_000
	}
	if v := os.Getenv("HOOKD_SEARCH_BENCH_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < storetest.SearchFanout*10_000 {
			b.Fatalf("HOOKD_SEARCH_BENCH_ATTEMPTS=%q: want a number of at least %d", v, storetest.SearchFanout*10_000)
		}
		d.Attempts = n
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4, Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if v, _ := s.Setting(ctx, "search_bench"); v != strconv.Itoa(d.Attempts) {
		start := time.Now()
		apps, eps := d.Setup()
		for _, a := range apps {
			if err := s.CreateApp(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
		for _, e := range eps {
			if err := s.CreateEndpoint(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		fillSearchSchema(b, dsn, schema, d)
		if err := s.PutSetting(ctx, "search_bench", strconv.Itoa(d.Attempts)); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled schema %s with %d attempts in %s", schema, d.Attempts, time.Since(start).Round(time.Second))
	}
	storetest.BenchSearch(b, s, d)
}

// fillSearchSchema copies d's rows into schema, three tables at once, with triggers
// (foreign keys included) off; the tag and channel rows the trigger would have written
// are inserted afterwards in one statement each.
func fillSearchSchema(b *testing.B, dsn, schema string, d storetest.SearchData) {
	ctx := context.Background()
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize()+"; SET session_replication_role = replica"); err != nil {
			b.Fatal(err)
		}
		return c
	}
	type copyJob struct {
		table string
		cols  []string
		rows  chan []any
		err   chan error
	}
	jobs := []*copyJob{
		{table: "messages", cols: []string{"id", "app_id", "event_type", "event_id", "payload", "channels", "tags", "timestamp"}},
		{table: "deliveries", cols: []string{"id", "app_id", "msg_id", "endpoint_id", "status", "attempts", "next_attempt", "trigger", "lease", "created_at", "updated_at"}},
		{table: "attempts", cols: []string{"id", "app_id", "msg_id", "endpoint_id", "url", "status", "response_status_code", "response", "duration", "trigger", "error", "timestamp", "headers"}},
	}
	for _, j := range jobs {
		j.rows, j.err = make(chan []any, 10_000), make(chan error, 1)
		c := conn()
		defer c.Close(ctx)
		go func() {
			_, err := c.CopyFrom(ctx, pgx.Identifier{j.table}, j.cols, pgx.CopyFromFunc(func() ([]any, error) {
				r, ok := <-j.rows
				if !ok {
					return nil, nil
				}
				return r, nil
			}))
			if err != nil {
				for range j.rows {
				}
			}
			j.err <- err
		}()
	}
	genErr := d.Generate(func(r storetest.SearchRows) error {
		m := r.Message
		jobs[0].rows <- []any{m.ID, m.AppID, m.EventType, m.EventID, []byte(m.Payload), m.Channels, m.Tags, m.Timestamp}
		for _, x := range r.Deliveries {
			jobs[1].rows <- []any{x.ID, x.AppID, x.MsgID, x.EndpointID, int16(x.Status), int32(x.Attempts), x.NextAttempt,
				int16(x.Trigger), int64(0), x.CreatedAt, x.UpdatedAt}
		}
		for _, a := range r.Attempts {
			jobs[2].rows <- []any{a.ID, a.AppID, a.MsgID, a.EndpointID, a.URL, int16(a.Status), int32(a.ResponseStatusCode),
				a.Response, int64(a.Duration), int16(a.Trigger), a.Error, a.Timestamp, ""}
		}
		return nil
	})
	for _, j := range jobs {
		close(j.rows)
	}
	for _, j := range jobs {
		if err := <-j.err; err != nil {
			b.Fatalf("copy %s: %v", j.table, err)
		}
	}
	if genErr != nil {
		b.Fatal(genErr)
	}
	c := conn()
	defer c.Close(ctx)
	for _, q := range []string{
		`INSERT INTO message_tags (tag, msg_id, app_id) SELECT DISTINCT t, m.id, m.app_id FROM messages m, unnest(m.tags) t`,
		`INSERT INTO message_channels (channel, msg_id, app_id) SELECT DISTINCT ch, m.id, m.app_id FROM messages m, unnest(m.channels) ch`,
		`VACUUM ANALYZE`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
}

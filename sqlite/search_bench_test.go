package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/storetest"
)

// searchBenchEnd is the end of the benchmark data's time span, fixed so that a store
// filled once serves every later run.
var searchBenchEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// searchBenchData returns the shape of the search benchmark's store: 10,000,000
// attempts in the file HOOKD_SEARCH_BENCH_DB (kept there and reused), or, without it,
// 100,000 in a temporary file; HOOKD_SEARCH_BENCH_ATTEMPTS overrides the count.
func searchBenchData(b *testing.B) (string, storetest.SearchData) {
	d := storetest.SearchData{Attempts: 100_000, End: searchBenchEnd}
	path := os.Getenv("HOOKD_SEARCH_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "search.db")
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
	return path, d
}

// BenchmarkSearch measures the operator's searches (hookd.SearchStore) on a store of
// 10,000,000 attempts (see searchBenchData), filled by bulk inserts on first use.
func BenchmarkSearch(b *testing.B) {
	path, d := searchBenchData(b)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	var filled string
	if v, err := s.Setting(ctx, "search_bench"); err == nil {
		filled = v
	}
	if filled != strconv.Itoa(d.Attempts) {
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
		s.Close()
		fillSearchStore(b, path, d)
		if s, err = sqlite.Open(ctx, path); err != nil {
			b.Fatal(err)
		}
		if err := s.PutSetting(ctx, "search_bench", strconv.Itoa(d.Attempts)); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %s with %d attempts in %s", path, d.Attempts, time.Since(start).Round(time.Second))
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchSearch(b, s, d)
}

// fillSearchStore writes d's rows with multi-row INSERTs in large transactions.
func fillSearchStore(b *testing.B, path string, d storetest.SearchData) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=foreign_keys(0)&_pragma=cache_size(-262144)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const rowsPer = 100
	type table struct {
		insert string
		cols   int
		args   []any
	}
	mk := func(head string, cols int) *table {
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
		return &table{insert: head + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", rowsPer), ", "), cols: cols}
	}
	msgs := mk(`INSERT INTO messages (id, app_id, event_type, event_id, payload, channels, tags, timestamp)`, 8)
	dls := mk(`INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, trigger, lease, created_at, updated_at)`, 11)
	atts := mk(`INSERT INTO attempts (id, app_id, msg_id, endpoint_id, url, status, response_status_code, response, duration, trigger, error, timestamp, headers)`, 13)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	flush := func(t *table, all bool) error {
		for len(t.args) >= rowsPer*t.cols || (all && len(t.args) > 0) {
			n := min(rowsPer, len(t.args)/t.cols)
			q := t.insert
			if n < rowsPer {
				row := "(" + strings.TrimSuffix(strings.Repeat("?, ", t.cols), ", ") + ")"
				q = q[:strings.Index(q, " VALUES ")] + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
			}
			if _, err := tx.Exec(q, t.args[:n*t.cols]...); err != nil {
				return err
			}
			t.args = t.args[n*t.cols:]
		}
		return nil
	}
	list := func(l []string) string {
		if len(l) == 0 {
			return "[]"
		}
		raw, _ := json.Marshal(l)
		return string(raw)
	}
	count := 0
	err = d.Generate(func(r storetest.SearchRows) error {
		m := r.Message
		msgs.args = append(msgs.args, m.ID, m.AppID, m.EventType, m.EventID, string(m.Payload), list(m.Channels), list(m.Tags), m.Timestamp.UnixMicro())
		for _, x := range r.Deliveries {
			dls.args = append(dls.args, x.ID, x.AppID, x.MsgID, x.EndpointID, int(x.Status), x.Attempts, x.NextAttempt.UnixMicro(),
				int(x.Trigger), 0, x.CreatedAt.UnixMicro(), x.UpdatedAt.UnixMicro())
		}
		for _, a := range r.Attempts {
			atts.args = append(atts.args, a.ID, a.AppID, a.MsgID, a.EndpointID, a.URL, int(a.Status), a.ResponseStatusCode,
				a.Response, int64(a.Duration), int(a.Trigger), a.Error, a.Timestamp.UnixMicro(), "")
		}
		for _, t := range []*table{msgs, dls, atts} {
			if err := flush(t, false); err != nil {
				return err
			}
		}
		if count++; count%200_000 == 0 {
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = db.Begin(); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, t := range []*table{msgs, dls, atts} {
			if err = flush(t, true); err != nil {
				break
			}
		}
	}
	if err != nil {
		b.Fatal(fmt.Errorf("fill search store: %w", err))
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
}

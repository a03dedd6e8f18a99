package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// SizeSample is one point of a soak run's size curve: the store's size and the
// rates of the interval that ended then.
type SizeSample struct {
	ElapsedS    float64 `json:"elapsed_s"`
	Accepted    int64   `json:"accepted"`
	Delivered   int64   `json:"delivered"`
	IngestPerS  float64 `json:"ingest_per_s"`
	DeliverPerS float64 `json:"deliveries_per_s"`
	// StoreMB is the SQLite file with its WAL, or every table of hookd's PostgreSQL
	// schema with its indexes, TOAST and partitions.
	StoreMB float64 `json:"store_mb"`
	// Tables are PostgreSQL's sizes per table (MB), a partitioned table's with all
	// its partitions.
	Tables map[string]float64 `json:"tables,omitempty"`
}

// soakArgs are the server flags of a soak run: the short retention, rows gone at
// twice it (idempotency keys too, as the bench sends one with every message), and
// attempt partitions small enough to be dropped within the run.
func soakArgs(cfg Config) []string {
	if cfg.Retention <= 0 {
		return nil
	}
	width := max(cfg.Retention/2, time.Minute)
	return []string{"--retention", cfg.Retention.String(), "--metadata-retention", (2 * cfg.Retention).String(),
		"--idempotency-ttl", max(2*cfg.Retention, time.Minute).String(), "--partition-width", width.String()}
}

// storeSizer measures a store's size on disk.
type storeSizer func(ctx context.Context) (float64, map[string]float64, error)

// newSizer returns the sizer of the database db: a SQLite path or a postgres:// DSN.
func newSizer(ctx context.Context, db string) (storeSizer, func(), error) {
	if !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		return func(context.Context) (float64, map[string]float64, error) {
			var total int64
			for _, p := range []string{db, db + "-wal"} {
				if st, err := os.Stat(p); err == nil {
					total += st.Size()
				}
			}
			return float64(total) / (1 << 20), nil, nil
		}, func() {}, nil
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("soak: connect for table sizes: %w", err)
	}
	var mu sync.Mutex
	return func(ctx context.Context) (float64, map[string]float64, error) {
		mu.Lock()
		defer mu.Unlock()
		// Every table of the schema, each partition counted under its partitioned
		// table (pg_partition_tree lists nothing for a table that is not partitioned).
		rows, err := conn.Query(ctx, `SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text,
				sum(pg_total_relation_size(c.oid))::bigint
			FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
			GROUP BY 1`)
		if err != nil {
			return 0, nil, err
		}
		defer rows.Close()
		tables := map[string]float64{}
		var total float64
		for rows.Next() {
			var name string
			var size int64
			if err := rows.Scan(&name, &size); err != nil {
				return 0, nil, err
			}
			mb := float64(size) / (1 << 20)
			tables[name] = mb
			total += mb
		}
		return total, tables, rows.Err()
	}, func() { conn.Close(context.Background()) }, nil
}

// sampleSizes records a SizeSample every interval until stop is closed, and one more
// then.
func sampleSizes(ctx context.Context, cfg Config, size storeSizer, trk *tracker, begin time.Time, stop <-chan struct{}) []SizeSample {
	var out []SizeSample
	lastAt, lastAcc, lastDel := time.Now(), trk.accepted.Load(), trk.arrived.Load()
	t := time.NewTicker(cfg.SampleInterval)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		case <-ctx.Done():
			done = true
		case <-t.C:
		}
		now := time.Now()
		acc, del := trk.accepted.Load(), trk.arrived.Load()
		mb, tables, err := size(context.WithoutCancel(ctx))
		if err != nil {
			note(cfg, "soak: size: %v", err)
		}
		span := now.Sub(lastAt).Seconds()
		s := SizeSample{ElapsedS: now.Sub(begin).Seconds(), Accepted: acc, Delivered: del, StoreMB: mb, Tables: tables}
		if span > 0 {
			s.IngestPerS, s.DeliverPerS = float64(acc-lastAcc)/span, float64(del-lastDel)/span
		}
		out = append(out, s)
		note(cfg, "soak: %6.0fs  %9d accepted  %9d delivered  %6.0f msg/s  %6.0f dlv/s  store %8.1f MB%s",
			s.ElapsedS, acc, del, s.IngestPerS, s.DeliverPerS, mb, TableSizes(tables))
		lastAt, lastAcc, lastDel = now, acc, del
	}
	return out
}

// TableSizes formats the largest tables of a SizeSample (over 1 MB), largest first,
// as "  (messages 120.5, deliveries 80.2, …)"; "" when there are none.
func TableSizes(tables map[string]float64) string {
	var names []string
	for n, mb := range tables {
		if mb >= 1 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(tables[b], tables[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1f", n, tables[n])
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

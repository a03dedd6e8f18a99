package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/storetest"
)

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "hookd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hookd.Store { return openStore(t) })
}

// benchFixture is an application with one endpoint and a 1 KiB payload, for the
// benchmarks and the tests that need a message to claim.
type benchFixture struct {
	s       *sqlite.Store
	ids     hookd.IDGen
	app     *hookd.Application
	ep      *hookd.Endpoint
	payload []byte
}

func newBenchFixture(tb testing.TB) *benchFixture {
	f := &benchFixture{s: openStore(tb)}
	now := time.Now()
	f.app = &hookd.Application{ID: f.ids.New(hookd.PrefixApp), Name: "bench", CreatedAt: now, UpdatedAt: now}
	f.ep = &hookd.Endpoint{ID: f.ids.New(hookd.PrefixEndpoint), AppID: f.app.ID, URL: "https://example.com/hook",
		Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: now, UpdatedAt: now}
	ctx := context.Background()
	if err := f.s.CreateApp(ctx, f.app); err != nil {
		tb.Fatal(err)
	}
	if err := f.s.CreateEndpoint(ctx, f.ep); err != nil {
		tb.Fatal(err)
	}
	f.payload = []byte(`{"data":"` + strings.Repeat("x", 1024-11) + `"}`)
	return f
}

// create stores one message with one delivery due now.
func (f *benchFixture) create(ctx context.Context) error {
	now := time.Now()
	m := &hookd.Message{ID: f.ids.New(hookd.PrefixMessage), AppID: f.app.ID, EventType: "invoice.paid",
		Payload: f.payload, Timestamp: now}
	d := &hookd.Delivery{ID: f.ids.New(hookd.PrefixDelivery), AppID: f.app.ID, MsgID: m.ID, EndpointID: f.ep.ID,
		Status: hookd.StatusPending, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
	_, err := f.s.CreateMessage(ctx, m, []*hookd.Delivery{d})
	return err
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCreateMessage measures accepting a message (1 KiB payload, one delivery),
// durable at return: one caller at a time, and 64 concurrent callers sharing commits.
func BenchmarkCreateMessage(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		f := newBenchFixture(b)
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			if err := f.create(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("parallel", func(b *testing.B) {
		f := newBenchFixture(b)
		ctx := context.Background()
		b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := f.create(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})
}

// BenchmarkClaimRecord measures the dispatcher's side per delivery: claimed in
// batches of 64 and recorded as successes in one call per batch.
func BenchmarkClaimRecord(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	// Fill the queue with b.N due deliveries, concurrently so commits are shared.
	var wg sync.WaitGroup
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if err := f.create(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ResetTimer()
	done := 0
	for done < b.N {
		now := time.Now()
		ds, err := f.s.ClaimDeliveries(ctx, now, time.Minute, 64)
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			b.Fatalf("queue empty after %d of %d", done, b.N)
		}
		results := make([]hookd.AttemptResult, len(ds))
		for i, d := range ds {
			results[i] = hookd.AttemptResult{
				Delivery: d, Status: hookd.StatusSuccess, NextAttempt: now, Attempts: d.Attempts + 1,
				Attempt: &hookd.Attempt{ID: f.ids.New(hookd.PrefixAttempt), AppID: d.AppID, MsgID: d.MsgID,
					EndpointID: d.EndpointID, URL: f.ep.URL, Status: hookd.StatusSuccess, ResponseStatusCode: 200,
					Response: "ok", Duration: time.Millisecond, Timestamp: now},
			}
		}
		if err := f.s.RecordAttempts(ctx, results); err != nil {
			b.Fatal(err)
		}
		done += len(ds)
	}
	reportRate(b)
}

func TestStoreInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hookd.Store {
		s, err := sqlite.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestStoreReplayingEveryWrite runs the conformance suite on a store that runs every
// write twice, the first time rolled back, as the writer does to a whole batch when
// one of its calls fails: no write may count or insert anything twice.
func TestStoreReplayingEveryWrite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hookd.Store { return sqlite.OpenReplaying(t) })
}

func TestClosed(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.PutSetting(t.Context(), "a", "b"); err == nil {
		t.Error("PutSetting after Close succeeded")
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(t.Context(), path) // migrations already applied: no-op
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Setting(t.Context(), "k"); err != nil || v != "v" {
		t.Errorf("Setting after reopen = %q, %v", v, err)
	}
}

// TestFilesArePrivate checks that the database file and the -wal and -shm files
// SQLite creates beside it are readable by their owner only.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, which leaves files world-readable
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	app := &hookd.Application{ID: "app_private", Name: "p", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.CreateApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(name), mode)
		}
	}
}

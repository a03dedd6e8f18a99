package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// BenchmarkPurge measures the writer's work per message of each retention purge on
// a file store filled as a soak run fills it (fan-out 1, 1 KiB payloads, an
// Idempotency-Key answer each, one successful attempt with its headers):
// ingest-µs/msg writing the messages, their deliveries and attempts (with 32
// goroutines sending: not the writer's alone), payload-µs/msg clearing their payloads
// (PurgePayloads), rows-µs/msg deleting them (PurgeMessages) and keys-µs/msg deleting
// their keys, each in process CPU time; purge-wall-µs/msg is the three purges' wall
// time, commits' syncs included. HOOKD_PURGE_BENCH_MESSAGES
// sets the count (default 20,000).
func BenchmarkPurge(b *testing.B) {
	n := 20_000
	if v := os.Getenv("HOOKD_PURGE_BENCH_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("HOOKD_PURGE_BENCH_MESSAGES=%q: want a positive number", v)
		}
	}
	ctx := context.Background()
	// Each phase's process CPU time (the writer's work, mostly), beside its wall time.
	var ingest, wall time.Duration
	var cpu [3]time.Duration // the payload, row and key purges'
	var wrote [3]int64
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "purge.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		fillPurgeStore(b, s, n, i)
		ingest += cpuTime() - c0
		far := time.Now().Add(24 * time.Hour)
		w0 := time.Now()
		// Each purge as the server runs it: batches of 500 until one comes back short.
		phases := []func() (int, error){
			func() (int, error) { return s.PurgePayloads(ctx, far, 500) },
			func() (int, error) { return s.PurgeMessages(ctx, far, 500) },
			func() (int, error) { return 0, s.DeleteIdempotentResponses(ctx, far) },
		}
		for k, purge := range phases {
			t0, b0 := cpuTime(), writtenBytes()
			for {
				got, err := purge()
				if err != nil {
					b.Fatal(err)
				}
				if got < 500 {
					break
				}
			}
			cpu[k] += cpuTime() - t0
			wrote[k] += writtenBytes() - b0
		}
		wall += time.Since(w0)
		s.Close()
		checkPurged(b, path)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*n) }
	b.ReportMetric(per(ingest), "ingest-µs/msg")
	b.ReportMetric(per(wall), "purge-wall-µs/msg")
	for k, name := range []string{"payload", "rows", "keys"} {
		b.ReportMetric(per(cpu[k]), name+"-µs/msg")
		b.ReportMetric(float64(wrote[k])/1024/float64(b.N*n), name+"-KB/msg")
	}
}

// writtenBytes is how many bytes the process has written with write(2) and its
// kin (wchar of /proc/self/io): the WAL's frames and the checkpoints' copies.
func writtenBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// checkPurged fails unless the purges left no message, delivery, attempt or key.
func checkPurged(b *testing.B, path string) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, t := range []string{"messages", "deliveries", "attempts", "idempotent_responses"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + t).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n != 0 {
			b.Fatalf("%d rows left in %s after the purges", n, t)
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillPurgeStore writes n messages to one endpoint from 32 goroutines (so that the
// writer commits them in groups, as under load), then claims their deliveries and
// records a successful attempt for each, 100 at a time.
func fillPurgeStore(b *testing.B, s *sqlite.Store, n, run int) {
	ctx := context.Background()
	now := time.Now()
	ids := hookd.IDGen{}
	app := &hookd.Application{ID: ids.New(hookd.PrefixApp), Name: "bench", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: ids.New(hookd.PrefixEndpoint), AppID: app.ID, URL: "http://127.0.0.1:1/hook",
		Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		b.Fatal(err)
	}
	payload := `{"data":"` + strings.Repeat("x", 1000) + `"}`
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Go(func() {
			for j := w; j < n; j += 32 {
				at := time.Now()
				m := &hookd.Message{ID: ids.New(hookd.PrefixMessage), AppID: app.ID, EventType: "invoice.paid",
					Payload: []byte(payload), Timestamp: at, PayloadExpiresAt: at.Add(time.Minute)}
				sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", run, j))
				body := `{"id":"` + m.ID + `","eventType":"invoice.paid","payload":` + payload + `,"timestamp":"` +
					at.UTC().Format(time.RFC3339Nano) + `"}`
				m.Idempotency = &hookd.IdempotentResponse{Key: hex.EncodeToString(sum[:]), StatusCode: 202,
					ContentType: "application/json", Body: []byte(body), CreatedAt: at}
				d := &hookd.Delivery{ID: ids.New(hookd.PrefixDelivery), AppID: app.ID, MsgID: m.ID, EndpointID: ep.ID,
					Status: hookd.StatusPending, NextAttempt: at, Trigger: hookd.TriggerScheduled, CreatedAt: at, UpdatedAt: at}
				if _, err := s.CreateMessage(ctx, m, []*hookd.Delivery{d}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	for {
		ds, err := s.ClaimDeliveries(ctx, time.Now().Add(time.Hour), time.Minute, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			return
		}
		rs := make([]hookd.AttemptResult, len(ds))
		for k, d := range ds {
			at := time.Now()
			rs[k] = hookd.AttemptResult{Delivery: d, Status: hookd.StatusSuccess, NextAttempt: at, Attempts: 1,
				Attempt: &hookd.Attempt{ID: ids.New(hookd.PrefixAttempt), AppID: d.AppID, MsgID: d.MsgID,
					EndpointID: d.EndpointID, URL: ep.URL, Status: hookd.StatusSuccess, ResponseStatusCode: 200,
					Response: "ok", Duration: time.Millisecond, Trigger: hookd.TriggerScheduled, Timestamp: at,
					Headers: &hookd.AttemptHeaders{Sent: map[string]string{"Content-Type": "application/json",
						"User-Agent": "hookd", "Webhook-Id": d.MsgID, "Webhook-Timestamp": strconv.FormatInt(at.Unix(), 10),
						"Webhook-Signature": "v1," + strings.Repeat("s", 44)},
						Response: [][2]string{{"Content-Length", "2"}, {"Date", at.UTC().Format(time.RFC1123)}}}}}
		}
		if err := s.RecordAttempts(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
}

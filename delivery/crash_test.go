package delivery_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

const crashAdminToken = "crash-test-admin-token-0123456789"

// crashMainKey is the servers' main encryption key: base64 of 32 bytes.
const crashMainKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// startHookd runs `hookd serve` on db and waits until it listens.
func startHookd(t *testing.T, bin, db string) *hookdtest.Process {
	t.Helper()
	// A fixed main key: PostgreSQL needs one given, the same at every restart.
	return hookdtest.StartServe(t, bin, []string{"HOOKD_ENCRYPTION_KEY=" + crashMainKey}, "--addr", "127.0.0.1:0",
		"--db", db, "--allow-private", "--admin-token", crashAdminToken, "--request-timeout", "2s", "--log-level", "error")
}

// TestCrashLosesNothing is the fault suite's crash loop: it runs the real binary on
// SQLite and on PostgreSQL, kills it with SIGKILL while it is accepting and
// delivering (twice; five times with HOOKD_TEST_LONG=1), restarts it on the same
// database each time and checks that every accepted message reaches the receiver,
// with a valid signature.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hookd binary")
	}
	kills := 2
	if os.Getenv("HOOKD_TEST_LONG") == "1" {
		kills = 5
	}
	t.Run("sqlite", func(t *testing.T) { crashLoop(t, filepath.Join(t.TempDir(), "h.db"), kills) })
	t.Run("postgres", func(t *testing.T) { crashLoop(t, hookdtest.PostgresDSN(t), kills) })
}

func crashLoop(t *testing.T, db string, kills int) {
	const total = 2000
	bin := hookdtest.BuildBinary(t)

	// The receiver verifies every signature and counts deliveries per message.
	v := sigVerifier(t, testSecret)
	var mu sync.Mutex
	got := make(map[int]int)    // payload index → deliveries
	ids := make(map[string]int) // webhook-id → payload index
	var badSig, delivered atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := v.Verify(r.Header, body); err != nil {
			badSig.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p struct{ I int }
		if err := json.Unmarshal(body, &p); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[p.I]++
		ids[r.Header.Get("Webhook-Id")] = p.I
		mu.Unlock()
		delivered.Add(1)
	}))
	t.Cleanup(rc.Close)

	api := hookdtest.API{Client: &http.Client{Timeout: 10 * time.Second}, Token: crashAdminToken}
	p := startHookd(t, bin, db)
	var app struct{ ID string }
	if _, err := api.Do(t.Context(), "POST", p.URL+"/api/v1/app", nil, map[string]any{"name": "crash"}, &app); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Do(t.Context(), "POST", p.URL+"/api/v1/app/"+app.ID+"/endpoint", nil,
		map[string]any{"url": rc.URL, "secret": testSecret}, nil); err != nil {
		t.Fatal(err)
	}

	accepted := make([]atomic.Bool, total)
	post := func(base string, i int) bool {
		code, err := api.Do(t.Context(), "POST", base+"/api/v1/app/"+app.ID+"/msg", nil, map[string]any{
			"eventType": "crash.test", "eventId": fmt.Sprintf("evt-%d", i), "payload": map[string]int{"i": i},
		}, nil)
		return err == nil || code == http.StatusConflict // 409: accepted before (same eventId)
	}
	// Each round sends its share concurrently and kills the server once half of it is
	// accepted; the next round restarts it on the same database.
	chunk := total / kills
	for round := range kills {
		if round > 0 {
			p = startHookd(t, bin, db)
		}
		next := make(chan int, chunk)
		for i := round * chunk; i < (round+1)*chunk; i++ {
			next <- i
		}
		close(next)
		var nAccepted atomic.Int64
		var killOnce sync.Once
		var atKill int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range next {
					if !post(p.URL, i) {
						continue // not known to be accepted: sent again after the last restart
					}
					accepted[i].Store(true)
					if nAccepted.Add(1) == int64(chunk/2) {
						killOnce.Do(func() {
							atKill = delivered.Load()
							p.Kill()
						})
					}
				}
			})
		}
		wg.Wait()
		if !p.Exited() {
			t.Fatalf("round %d: the server was never killed", round+1)
		}
		t.Logf("round %d: killed with SIGKILL after %d of its messages were accepted, %d deliveries received so far", round+1, chunk/2, atKill)
	}

	p = startHookd(t, bin, db)
	resent := 0
	for i := range total {
		if accepted[i].Load() {
			continue
		}
		resent++
		if !post(p.URL, i) {
			t.Fatalf("message %d not accepted after the last restart", i)
		}
	}
	t.Logf("after the last restart: %d messages sent again (not acknowledged before a kill)", resent)

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver has %d of %d messages after 60 s", n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	dup := 0
	for _, n := range got {
		dup += n - 1
	}
	if len(ids) != total {
		t.Errorf("%d distinct webhook-ids for %d messages", len(ids), total)
	}
	if badSig.Load() != 0 {
		t.Errorf("%d deliveries with a bad signature", badSig.Load())
	}
	t.Logf("crash loop: %d kills, all %d messages delivered; %d deliveries in all, %d messages delivered more than once (%d duplicate deliveries)",
		kills, total, delivered.Load(), countDup(got), dup)
}

func countDup(got map[int]int) int {
	n := 0
	for _, c := range got {
		if c > 1 {
			n++
		}
	}
	return n
}

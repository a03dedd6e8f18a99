package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

// TestBulkReplaySurvivesSIGKILL runs the real binary, starts a bulk replay of 5,000
// delivered messages, kills the process with SIGKILL while the task is part way
// through, restarts it on the same database and checks that the task then finishes
// and that every message of the window reached the receiver again.
func TestBulkReplaySurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	const total = 5000
	bin := hookdtest.BuildBinary(t)
	db := filepath.Join(t.TempDir(), "h.db")
	const token = "task-crash-admin-token-0123456789"
	start := func() *hookdtest.Process {
		return hookdtest.StartServe(t, bin, nil, "--addr", "127.0.0.1:0", "--db", db, "--allow-private",
			"--admin-token", token, "--log-level", "error")
	}

	var replaying atomic.Bool
	var mu sync.Mutex
	first, again := map[string]int{}, map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("Webhook-Id")
		mu.Lock()
		if replaying.Load() {
			again[id]++
		} else {
			first[id]++
		}
		mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	received := func(m map[string]int) int {
		mu.Lock()
		defer mu.Unlock()
		return len(m)
	}
	waitAll := func(m map[string]int, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for received(m) < total && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := received(m); n < total {
			t.Fatalf("%s: receiver got %d of %d messages", what, n, total)
		}
	}

	api := hookdtest.API{Client: &http.Client{Timeout: 30 * time.Second}, Token: token}
	ctx := t.Context()
	p := start()
	if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app", nil, map[string]any{"name": "crash", "uid": "crash"}, nil); err != nil {
		t.Fatal(err)
	}
	var ep struct{ ID string }
	if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app/crash/endpoint", nil, map[string]any{"url": rc.URL}, &ep); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second).UTC()
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app/crash/msg", nil,
					map[string]any{"eventType": "a.b", "payload": map[string]int{"i": i}}, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitAll(first, "before the replay")

	replaying.Store(true)
	var tk taskOut
	if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app/crash/endpoint/"+ep.ID+"/bulk-replay", nil,
		map[string]any{"since": since}, &tk); err != nil {
		t.Fatal(err)
	}
	get := func(base string) taskOut {
		t.Helper()
		var out taskOut
		if _, err := api.Do(ctx, "GET", base+"/api/v1/background-task/"+tk.ID, nil, nil, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Kill once the task has saved some progress, before it is done.
	var atKill taskOut
	for range 10000 {
		if atKill = get(p.URL); atKill.Status != "running" || atKill.Data.Processed > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p.Kill()
	if atKill.Status != "running" || atKill.Data.Processed >= total {
		t.Fatalf("task at the kill = %+v, want running part way", atKill)
	}
	t.Logf("killed with the task at %d of %d messages", atKill.Data.Processed, total)

	p = start()
	var done taskOut
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if done = get(p.URL); done.Status != "running" {
			break
		}
	}
	if done.Status != "finished" || done.Data.Processed < total || done.Data.Error != "" {
		t.Fatalf("task after the restart = %+v, want finished with every message processed", done)
	}
	waitAll(again, "after the replay")
}

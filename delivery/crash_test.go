package delivery_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const crashAdminToken = "crash-test-admin-token-0123456789"

// hookdProcess is `hookd serve` running as a child process.
type hookdProcess struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

// startHookd runs the binary on db and waits until it listens.
func startHookd(t *testing.T, bin, db string) *hookdProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", db, "--allow-private",
		"--admin-token", crashAdminToken, "--request-timeout", "2s", "--log-level", "error")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &hookdProcess{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	var tail bytes.Buffer
	var tailMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tailMu.Lock()
			tail.WriteString(sc.Text() + "\n")
			tailMu.Unlock()
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.url = <-found:
	case <-p.done:
		tailMu.Lock()
		defer tailMu.Unlock()
		t.Fatalf("hookd exited before listening:\n%s", tail.String())
	case <-time.After(30 * time.Second):
		t.Fatal("hookd did not start listening within 30 s")
	}
	return p
}

// api calls the hookd API and decodes the response into out (if non-nil).
func api(client *http.Client, base, method, path string, in, out any) (int, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+crashAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

// TestCrashLosesNothing runs the real binary, kills it with SIGKILL while it is
// accepting and delivering 2,000 messages, restarts it on the same database and
// checks that every accepted message reaches the receiver.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hookd binary")
	}
	const total = 2000
	dir := t.TempDir()
	bin := filepath.Join(dir, "hookd")
	build := exec.Command("go", "build", "-o", bin, "github.com/hookd/hookd/cmd/hookd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hookd: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "h.db")

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

	client := &http.Client{Timeout: 10 * time.Second}
	p := startHookd(t, bin, db)
	var app struct{ ID string }
	if _, err := api(client, p.url, "POST", "/api/v1/app", map[string]any{"name": "crash"}, &app); err != nil {
		t.Fatal(err)
	}
	if _, err := api(client, p.url, "POST", "/api/v1/app/"+app.ID+"/endpoint",
		map[string]any{"url": rc.URL, "secret": testSecret}, nil); err != nil {
		t.Fatal(err)
	}

	// Send concurrently; kill the server once half are accepted.
	accepted := make([]atomic.Bool, total)
	var nAccepted atomic.Int64
	var killOnce sync.Once
	var atKill int64
	post := func(base string, i int) bool {
		code, err := api(client, base, "POST", "/api/v1/app/"+app.ID+"/msg", map[string]any{
			"eventType": "crash.test", "eventId": fmt.Sprintf("evt-%d", i), "payload": map[string]int{"i": i},
		}, nil)
		return err == nil || code == http.StatusConflict // 409: accepted before (same eventId)
	}
	next := make(chan int, total)
	for i := range total {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				if !post(p.url, i) {
					continue // not known to be accepted: sent again after the restart
				}
				accepted[i].Store(true)
				if nAccepted.Add(1) == total/2 {
					killOnce.Do(func() {
						atKill = delivered.Load()
						p.cmd.Process.Signal(syscall.SIGKILL)
					})
				}
			}
		})
	}
	wg.Wait()
	<-p.done
	t.Logf("killed with SIGKILL after %d messages accepted, %d deliveries received", total/2, atKill)

	p = startHookd(t, bin, db)
	resent := 0
	for i := range total {
		if accepted[i].Load() {
			continue
		}
		resent++
		if !post(p.url, i) {
			t.Fatalf("message %d not accepted after the restart", i)
		}
	}
	t.Logf("after the restart: %d messages sent again (not acknowledged before the kill)", resent)

	deadline := time.Now().Add(45 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver has %d of %d messages after 45 s", n, total)
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
	t.Logf("all %d messages delivered; %d deliveries in all, %d messages delivered more than once (%d duplicate deliveries)",
		total, delivered.Load(), countDup(got), dup)
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

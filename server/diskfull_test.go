package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

// smallTmpfs mounts a tmpfs of size bytes on a fresh directory, unmounted when the
// test ends, or skips the test where mounting is not allowed.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): disk-full test skipped", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull runs the real binary with its SQLite database on a small tmpfs and
// fills the disk: accepting a message then answers 507 storage_full (never 500),
// /readyz fails, the log says so once, loudly; once space is freed, the server is
// ready again and every message it accepted is delivered.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := smallTmpfs(t, "24m")
	var mu sync.Mutex
	got := map[string]bool{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")] = true
		mu.Unlock()
	}))
	t.Cleanup(rc.Close)

	bin := hookdtest.BuildBinary(t)
	p := hookdtest.StartServe(t, bin, []string{"HOOKD_ADMIN_TOKEN=" + adminToken},
		"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "hookd.db"), "--allow-private")
	ts := &testServer{url: p.URL}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		code, b := ts.raw(t, method, path, body)
		return code, string(b)
	}
	if code, b := call("POST", "/api/v1/app", `{"name":"full","uid":"full"}`); code != 201 {
		t.Fatalf("create app: %d %s", code, b)
	}
	if code, b := call("POST", "/api/v1/app/full/endpoint", fmt.Sprintf(`{"url":%q}`, rc.URL)); code != 201 {
		t.Fatalf("create endpoint: %d %s", code, b)
	}
	// Ballast fills most of the disk, so that deleting it frees space later.
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 16<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("x", 256<<10)
	var accepted []string
	full := false
	for i := 0; i < 200 && !full; i++ {
		code, b := call("POST", "/api/v1/app/full/msg", fmt.Sprintf(`{"eventType":"e","payload":{"i":%d,"d":"%s"}}`, i, filler))
		switch code {
		case http.StatusAccepted:
			id := b[strings.Index(b, `"id":"`)+6:]
			accepted = append(accepted, id[:strings.IndexByte(id, '"')])
		case http.StatusInsufficientStorage:
			if !strings.Contains(b, `"storage_full"`) {
				t.Fatalf("507 without the storage_full code: %s", b)
			}
			full = true
		default:
			t.Fatalf("message %d: %d %s; want 202 or 507", i, code, clip([]byte(b)))
		}
	}
	if !full {
		t.Fatal("the disk never filled")
	}
	ready := func() (int, string) {
		resp, err := http.Get(p.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := ready(); code != http.StatusServiceUnavailable || !strings.Contains(b, "storage_full") {
		t.Fatalf("/readyz with a full disk = %d %q, want 503 naming storage_full", code, b)
	}
	// A few more refused writes, and time for the watch to look: one log line.
	for range 3 {
		if code, _ := call("POST", "/api/v1/app/full/msg", `{"eventType":"e","payload":{"d":"`+filler+`"}}`); code != http.StatusInsufficientStorage {
			t.Fatalf("with the disk full: %d, want 507", code)
		}
	}
	eventuallyTrue(t, 10*time.Second, func() bool { return strings.Contains(p.Printed(), "DISK FULL") }, "the DISK FULL log line")
	time.Sleep(2500 * time.Millisecond) // another look by the watch: still one line
	if n := strings.Count(p.Printed(), "DISK FULL"); n != 1 {
		t.Errorf("DISK FULL logged %d times, want once", n)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, 20*time.Second, func() bool { code, _ := ready(); return code == http.StatusOK }, "/readyz to pass once space is freed")
	code, b := call("POST", "/api/v1/app/full/msg", `{"eventType":"e","payload":{"after":true}}`)
	if code != http.StatusAccepted {
		t.Fatalf("after freeing space: %d %s", code, b)
	}
	id := b[strings.Index(b, `"id":"`)+6:]
	accepted = append(accepted, id[:strings.IndexByte(id, '"')])
	eventuallyTrue(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range accepted {
			if !got[id] {
				return false
			}
		}
		return true
	}, "every accepted message to be delivered")
	t.Logf("disk full: %d messages accepted before the disk filled, 507 storage_full after, /readyz 503, one DISK FULL line, all delivered once space was freed", len(accepted)-1)
}

func eventuallyTrue(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	hookdtest.Eventually(t, within, what, cond)
}

package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

// TestListMemoryBounded lists messages of 1 MB each (within the limits) four times in
// parallel with limit=250 from the real binary: its peak resident set must stay under
// 300 MiB, and paging must still return every message once. It stores 64 messages;
// with HOOKD_TEST_LONG=1, 250 (a full page of maximal messages, about a minute).
func TestListMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MB; skipped with -short")
	}
	messages := 64
	if longFaults() {
		messages = 250
	}
	bin := hookdtest.BuildBinary(t)
	const token = "list-memory-token-0123456789"
	p := hookdtest.StartServe(t, bin, []string{"HOOKD_ADMIN_TOKEN=" + token},
		"--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "mem.db"), "--log-level", "warn")
	call := func(method, path, body string) (int, io.ReadCloser) {
		t.Helper()
		req, err := http.NewRequest(method, p.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Body
	}
	if code, body := call("POST", "/api/v1/app", `{"name":"mem","uid":"mem"}`); code != 201 {
		t.Fatalf("create app: %d", code)
	} else {
		body.Close()
	}
	start := time.Now()
	filler := strings.Repeat("x", 1<<20-64)
	for i := range messages {
		code, body := call("POST", "/api/v1/app/mem/msg", fmt.Sprintf(`{"eventType":"big","payload":{"i":%d,"d":"%s"}}`, i, filler))
		body.Close()
		if code != http.StatusAccepted {
			t.Fatalf("message %d: %d", i, code)
		}
	}
	t.Logf("stored %d messages of 1 MB in %s", messages, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	before := p.PeakRSSMB()
	var wg sync.WaitGroup
	seen := make([]int, 4)
	pages := make([]int, 4)
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iter := ""
			for pages[c] < 2*messages {
				code, body := call("GET", "/api/v1/app/mem/msg?limit=250"+iter, "")
				var page struct {
					Data     []json.RawMessage `json:"data"`
					Done     bool              `json:"done"`
					Iterator *string           `json:"iterator"`
				}
				err := json.NewDecoder(body).Decode(&page)
				body.Close()
				if code != http.StatusOK || err != nil {
					t.Errorf("list: %d %v", code, err)
					return
				}
				pages[c]++
				seen[c] += len(page.Data)
				if page.Done || page.Iterator == nil {
					return
				}
				iter = "&iterator=" + *page.Iterator
			}
		}()
	}
	wg.Wait()
	peak := p.PeakRSSMB()
	t.Logf("listed them 4 times in parallel in %s", time.Since(start).Round(time.Millisecond))
	for c := range 4 {
		if seen[c] != messages {
			t.Errorf("client %d saw %d messages in %d pages, want %d", c, seen[c], pages[c], messages)
		}
	}
	t.Logf("4 parallel lists of %d messages of 1 MB (limit=250): %d pages each, peak RSS %.0f MiB (%.0f MiB before listing)", messages, pages[0], peak, before)
	if peak < 0 {
		t.Skip("no /proc: peak RSS not measured")
	}
	if peak >= 300 {
		t.Errorf("peak RSS %.0f MiB, want under 300 MiB", peak)
	}
}

// longFaults reports whether the fault suite runs its long form (HOOKD_TEST_LONG=1).
func longFaults() bool { return os.Getenv("HOOKD_TEST_LONG") == "1" }

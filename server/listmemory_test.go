package server_test

import (
	"encoding/json"
	"fmt"
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
	p := hookdtest.StartServe(t, bin, []string{"HOOKD_ADMIN_TOKEN=" + adminToken},
		"--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "mem.db"), "--log-level", "warn")
	ts := &testServer{url: p.URL}
	if code, body := ts.raw(t, "POST", "/api/v1/app", `{"name":"mem","uid":"mem"}`); code != 201 {
		t.Fatalf("create app: %d %s", code, clip(body))
	}
	start := time.Now()
	filler := strings.Repeat("x", 1<<20-64)
	for i := range messages {
		code, _ := ts.raw(t, "POST", "/api/v1/app/mem/msg", fmt.Sprintf(`{"eventType":"big","payload":{"i":%d,"d":"%s"}}`, i, filler))
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
				code, body := ts.raw(t, "GET", "/api/v1/app/mem/msg?limit=250"+iter, "")
				var page struct {
					Data     []json.RawMessage `json:"data"`
					Done     bool              `json:"done"`
					Iterator *string           `json:"iterator"`
				}
				err := json.Unmarshal(body, &page)
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

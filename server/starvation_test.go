package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
)

// TestHealthyBesideHangingEndpoints is the fault suite's starvation case: a healthy
// endpoint's accept-to-receipt latency alone, beside 8 and beside 50 endpoints that
// never answer (each with a backlog that fills its concurrency), on the default
// --workers 256 and --endpoint-concurrency 32. It reports the median and p99 of each,
// and fails only when the healthy endpoint is starved (a delivery later than 5 s, or
// missing); the latency figures are a measurement, not an assertion.
func TestHealthyBesideHangingEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starvation measurement skipped with -short")
	}
	hanging := []int{0, 8, 50}
	spreads := []bool{false}
	if longFaults() {
		spreads = append(spreads, true) // each hanging endpoint in its own application
	}
	var alone time.Duration
	for _, spread := range spreads {
		for _, n := range hanging {
			name := fmt.Sprintf("%d hanging", n)
			if spread {
				name += ", one application each"
			}
			t.Run(name, func(t *testing.T) {
				p50, p99 := healthyLatency(t, n, spread)
				if n == 0 {
					alone = p50
				}
				ratio := ""
				if alone > 0 {
					ratio = fmt.Sprintf(" (%.1f× alone)", float64(p50)/float64(alone))
				}
				t.Logf("healthy endpoint beside %d hanging: median %s, p99 %s%s", n, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), ratio)
			})
		}
	}
}

// healthyLatency starts a server, gives n hanging endpoints a backlog, then sends a
// healthy endpoint of another application messages at a steady pace and returns the
// median and p99 of their accept-to-receipt latency.
func healthyLatency(t *testing.T, n int, spread bool) (p50, p99 time.Duration) {
	ts := startServer(t, func(c *server.Config) { c.RequestTimeout = time.Minute })
	api := &faultAPI{t: t, ts: ts}
	release := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(dead.Close)
	t.Cleanup(func() { close(release) })

	var mu sync.Mutex
	sent, received := map[string]time.Time{}, map[string]time.Time{}
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		id := r.Header.Get("webhook-id")
		mu.Lock()
		if _, ok := received[id]; !ok {
			received[id] = now
		}
		mu.Unlock()
	}))
	t.Cleanup(healthy.Close)

	const backlog = 40 // per hanging endpoint: more than its concurrency
	if n > 0 {
		apps := []string{api.id("POST", "/api/v1/app", `{"name":"dead"}`)}
		for i := 0; i < n; i++ {
			if spread && i > 0 {
				apps = append(apps, api.id("POST", "/api/v1/app", fmt.Sprintf(`{"name":"dead%d"}`, i)))
			}
			api.id("POST", "/api/v1/app/"+apps[len(apps)-1]+"/endpoint", fmt.Sprintf(`{"url":%q}`, dead.URL+"/dead"))
		}
		var wg sync.WaitGroup
		for _, app := range apps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range backlog {
					api.id("POST", "/api/v1/app/"+app+"/msg", `{"eventType":"dead.event","payload":{}}`)
				}
			}()
		}
		wg.Wait()
		time.Sleep(500 * time.Millisecond) // the hanging requests take the workers they can
	}
	good := api.id("POST", "/api/v1/app", `{"name":"good"}`)
	api.id("POST", "/api/v1/app/"+good+"/endpoint", fmt.Sprintf(`{"url":%q}`, healthy.URL+"/ok"))
	const messages = 200
	for i := range messages {
		start := time.Now()
		code, body := ts.raw(t, "POST", "/api/v1/app/"+good+"/msg", fmt.Sprintf(`{"eventType":"good.event","payload":{"i":%d}}`, i))
		if code != http.StatusAccepted {
			t.Fatalf("message %d: %d %s", i, code, clip(body))
		}
		id := string(body)
		id = id[strings.Index(id, `"id":"`)+6:]
		id = id[:strings.IndexByte(id, '"')]
		mu.Lock()
		sent[id] = start
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := len(received)
		mu.Unlock()
		if got == messages || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for id, s := range sent {
		if r, ok := received[id]; ok {
			lat = append(lat, r.Sub(s))
		}
	}
	if len(lat) != messages {
		t.Fatalf("starved: the healthy endpoint got %d of %d messages", len(lat), messages)
	}
	slices.Sort(lat)
	p50, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	if worst := lat[len(lat)-1]; worst > 5*time.Second {
		t.Errorf("starved: a healthy delivery took %s", worst)
	}
	return p50, p99
}

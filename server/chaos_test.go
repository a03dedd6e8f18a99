package server_test

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/server"
)

// The chaos run: one hookd, one application, and endpoints that are healthy, dead
// (connection refused), hanging, flapping (half their answers 500) and throttling
// (429 with Retry-After), all subscribed to the same stream of messages. Then the
// faults clear, and every delivery must arrive.

// chaosRetryAfter is the Retry-After of the throttling endpoint, in seconds.
const chaosRetryAfter = 1

// chaosThrottled is how many requests the throttling endpoint answers with 429.
const chaosThrottled = 5

// chaosConfig is the server's configuration for a chaos run: a short retry
// schedule, and circuits that open after five failures and probe every 250 ms at
// first, every 2 s at most.
func chaosConfig(c *server.Config) {
	s, err := hookd.ParseRetrySchedule(strings.Repeat("1s,", 20) + strings.Repeat("3s,", 19) + "3s")
	if err != nil {
		panic(err)
	}
	c.RetrySchedule = s
	c.CircuitFailures = 5
	c.CircuitBackoff = 250 * time.Millisecond
	c.CircuitMaxBackoff = 2 * time.Second
}

// chaosServer starts hookd in-process on a SQLite file.
func chaosServer(tb testing.TB) string {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(tb.TempDir(), "hookd.db")
	cfg.AdminToken = adminToken
	cfg.AllowPrivate = true
	chaosConfig(&cfg)
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		tb.Fatalf("open server: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close server: %v", err)
		}
	})
	return srv.URL()
}

// chaosAPI calls hookd's API as the admin; it fails tb on a transport error or an
// answer other than 2xx.
type chaosAPI struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func (a chaosAPI) do(method, path string, in, out any) {
	a.tb.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			a.tb.Fatal(err)
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		a.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.tb.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		a.tb.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.tb.Fatal(err)
		}
	}
}

// chaosReceiver records when each message first arrived.
type chaosReceiver struct {
	mu       sync.Mutex
	got      map[string]time.Time
	requests int
}

func newChaosReceiver() *chaosReceiver { return &chaosReceiver{got: map[string]time.Time{}} }

// note records a request, and its message as arrived if delivered.
func (c *chaosReceiver) note(r *http.Request, delivered bool) {
	_, _ = io.Copy(io.Discard, r.Body)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if !delivered {
		return
	}
	id := r.Header.Get("Webhook-Id")
	if _, ok := c.got[id]; !ok {
		c.got[id] = now
	}
}

func (c *chaosReceiver) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// chaosResult is what a chaos run measured.
type chaosResult struct {
	// Of the healthy endpoint, one per message: accept→receipt, from the API's 202
	// answer to the receiver (0 for a delivery that arrived before the client read
	// the answer), and send→receipt, from just before the API call.
	healthy, healthySent []time.Duration
	ingest               []time.Duration // how long each API call took
	// Of the dead endpoint: its attempts while dead, the probes among them (its
	// circuit's half-open transitions) and how many it may have had: the failures
	// that open its circuit, the requests in flight when it opened, and the probes.
	deadAttempts, deadProbes, deadBound int
	// Requests to the throttling endpoint while a Retry-After it sent was running.
	duringRetryAfter int
	elapsed          time.Duration // from the first message to the last delivery
}

// runChaos sends n messages to a healthy endpoint, and with faults to the faulty
// ones beside it; with drain it then clears the faults and waits for every delivery.
func runChaos(tb testing.TB, n int, faults bool, peers int, drain bool) chaosResult {
	tb.Helper()
	base := chaosServer(tb)
	api := chaosAPI{tb: tb, base: base, c: &http.Client{Timeout: 30 * time.Second}}
	var res chaosResult
	var cleared atomic.Bool

	healthy := newChaosReceiver()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { healthy.note(r, true) }))
	tb.Cleanup(hs.Close)

	var app struct{ ID string }
	api.do("POST", "/api/v1/app", map[string]any{"name": "chaos"}, &app)
	type epOut struct{ ID string }
	endpoint := func(url string, extra map[string]any) string {
		in := map[string]any{"url": url}
		for k, v := range extra {
			in[k] = v
		}
		var ep epOut
		api.do("POST", "/api/v1/app/"+app.ID+"/endpoint", in, &ep)
		return ep.ID
	}
	endpoint(hs.URL, nil)
	// Healthy peers: the same fan-out as the faults' without any fault, to tell the
	// cost of more deliveries per message from the cost of the faults.
	for range peers {
		ps := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		tb.Cleanup(ps.Close)
		endpoint(ps.URL, nil)
	}

	var dead, hang, flap, throttle *chaosReceiver
	var deadID, deadAddr string
	var throttleMu sync.Mutex
	var windows [][2]time.Time // Retry-After windows the throttling endpoint opened
	release := make(chan struct{})
	if faults {
		// Dead: a port nobody listens on, until the faults clear.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		deadAddr = ln.Addr().String()
		ln.Close()
		dead = newChaosReceiver()
		deadID = endpoint("http://"+deadAddr+"/", nil)

		hang = newChaosReceiver()
		hgs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !cleared.Load() {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			hang.note(r, true)
		}))
		tb.Cleanup(hgs.Close)
		tb.Cleanup(func() {
			if !cleared.Load() {
				close(release)
			}
		})
		endpoint(hgs.URL, map[string]any{"timeoutMs": 500})

		flap = newChaosReceiver()
		rnd := rand.New(rand.NewPCG(1, 2))
		var rndMu sync.Mutex
		fs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rndMu.Lock()
			fail := rnd.IntN(2) == 0 && !cleared.Load()
			rndMu.Unlock()
			if fail {
				flap.note(r, false)
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			flap.note(r, true)
		}))
		tb.Cleanup(fs.Close)
		endpoint(fs.URL, nil)

		throttle = newChaosReceiver()
		var throttled int
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			throttleMu.Lock()
			for _, win := range windows {
				if now.After(win[0]) && now.Before(win[1]) {
					res.duringRetryAfter++
				}
			}
			answer429 := throttled < chaosThrottled
			if answer429 {
				throttled++
			}
			throttleMu.Unlock()
			if answer429 {
				throttle.note(r, false)
				w.Header().Set("Retry-After", strconv.Itoa(chaosRetryAfter))
				w.WriteHeader(http.StatusTooManyRequests)
				// The window opens once the answer is on its way: hookd's pause runs
				// from when it reads the answer, later still.
				throttleMu.Lock()
				at := time.Now()
				windows = append(windows, [2]time.Time{at, at.Add(chaosRetryAfter * time.Second)})
				throttleMu.Unlock()
				return
			}
			throttle.note(r, true)
		}))
		tb.Cleanup(ts.Close)
		// One request at a time: no request can be in flight when the 429 is answered,
		// so any request during the window was sent during the pause.
		endpoint(ts.URL, map[string]any{"maxConcurrency": 1})
	}

	start := time.Now()
	var sendWG sync.WaitGroup
	const senders = 4
	type sentMsg struct {
		id             string
		sent, accepted time.Time
	}
	sent := make([][]sentMsg, senders)
	for s := range senders {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			for i := s; i < n; i += senders {
				var m struct{ ID string }
				at := time.Now()
				api.do("POST", "/api/v1/app/"+app.ID+"/msg", map[string]any{
					"eventType": "chaos.tick", "payload": map[string]any{"i": i},
				}, &m)
				sent[s] = append(sent[s], sentMsg{m.ID, at, time.Now()})
			}
		}()
	}
	sendWG.Wait()

	waitAll := func(name string, rc *chaosReceiver, d time.Duration) {
		tb.Helper()
		deadline := time.Now().Add(d)
		for rc.count() < n {
			if time.Now().After(deadline) {
				tb.Fatalf("%s endpoint: %d of %d messages arrived", name, rc.count(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAll("healthy", healthy, 3*time.Minute)
	healthy.mu.Lock()
	for _, ms := range sent {
		for _, m := range ms {
			got := healthy.got[m.id]
			res.healthy = append(res.healthy, max(0, got.Sub(m.accepted)))
			res.healthySent = append(res.healthySent, got.Sub(m.sent))
			res.ingest = append(res.ingest, m.accepted.Sub(m.sent))
		}
	}
	healthy.mu.Unlock()

	if faults && drain {
		// The dead endpoint's record while dead, then the faults clear.
		var c struct {
			Transitions []struct{ To string } `json:"transitions"`
		}
		api.do("GET", "/api/v1/app/"+app.ID+"/endpoint/"+deadID+"/circuit", nil, &c)
		res.deadAttempts = countAttempts(api, app.ID, deadID)
		for _, t := range c.Transitions {
			if t.To == "half-open" {
				res.deadProbes++
			}
		}
		if len(c.Transitions) >= hookd.MaxCircuitTransitions {
			tb.Fatalf("the dead endpoint's circuit kept %d transitions, the most it keeps: its probes cannot be counted", len(c.Transitions))
		}
		res.deadBound = 5 + hookd.DefaultEndpointConcurrency + res.deadProbes

		cleared.Store(true)
		close(release)
		ln, err := net.Listen("tcp", deadAddr)
		if err != nil {
			tb.Fatalf("listen again on the dead endpoint's port: %v", err)
		}
		revived := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { dead.note(r, true) })}
		go revived.Serve(ln)
		tb.Cleanup(func() { revived.Close() })

		waitAll("dead, then revived,", dead, 3*time.Minute)
		waitAll("hanging", hang, 3*time.Minute)
		waitAll("flapping", flap, 3*time.Minute)
		waitAll("throttling", throttle, 3*time.Minute)
	}
	res.elapsed = time.Since(start)
	return res
}

// countAttempts counts the attempts of an endpoint through the API.
func countAttempts(api chaosAPI, appID, endpointID string) int {
	n, iter := 0, ""
	for range 1000 {
		var page struct {
			Data     []json.RawMessage `json:"data"`
			Iterator *string           `json:"iterator"`
			Done     bool              `json:"done"`
		}
		path := "/api/v1/app/" + appID + "/attempt/endpoint/" + endpointID + "?limit=250"
		if iter != "" {
			path += "&iterator=" + iter
		}
		api.do("GET", path, nil, &page)
		n += len(page.Data)
		if page.Done || page.Iterator == nil || len(page.Data) == 0 {
			break
		}
		iter = *page.Iterator
	}
	return n
}

// chaosMessages is the length of the chaos stream: 2,000, or HOOKD_CHAOS_MESSAGES.
func chaosMessages(tb testing.TB) int {
	if v := os.Getenv("HOOKD_CHAOS_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			tb.Fatalf("HOOKD_CHAOS_MESSAGES=%q is not a positive number", v)
		}
		return n
	}
	return 2000
}

// TestChaos sends the chaos stream to the five endpoints and checks what must hold
// whatever the machine's speed: the dead endpoint got no more requests than its
// probes allow, the throttling endpoint none while its Retry-After ran, and after
// the faults cleared every endpoint got every message. BenchmarkChaos measures the
// healthy endpoint's latency beside the faults and alone.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes a while; not with -short")
	}
	t.Parallel()
	n := chaosMessages(t)
	res := runChaos(t, n, true, 0, true)
	t.Logf("%d messages to 5 endpoints in %v; dead endpoint: %d attempts, %d probes (bound %d); requests during Retry-After: %d",
		n, res.elapsed.Round(time.Millisecond), res.deadAttempts, res.deadProbes, res.deadBound, res.duringRetryAfter)
	if res.deadAttempts > res.deadBound {
		t.Errorf("the dead endpoint had %d attempts, more than the %d its circuit allows (5 failures, %d in flight, %d probes)",
			res.deadAttempts, res.deadBound, hookd.DefaultEndpointConcurrency, res.deadProbes)
	}
	if res.deadProbes == 0 {
		t.Error("the dead endpoint's circuit sent no probe")
	}
	if res.duringRetryAfter != 0 {
		t.Errorf("%d requests reached the throttling endpoint during its Retry-After", res.duringRetryAfter)
	}
}

// BenchmarkChaos measures the healthy endpoint's accept→receipt latency (from the
// API's answer to the receiver) over a chaos stream, alone, beside one healthy
// endpoint (as much work as the flapping one does), beside four healthy endpoints
// (the same fan-out without faults) and beside the four faulty endpoints: p50 and p99 in milliseconds, with send→receipt (from just before
// the API call) and the API call's own p99. A run ends once the healthy endpoint has
// every message (TestChaos waits for the faults to clear and the rest to arrive).
// The stream is HOOKD_CHAOS_MESSAGES long (2,000 by default); each iteration is one
// run.
func BenchmarkChaos(b *testing.B) {
	for _, tc := range []struct {
		name   string
		faults bool
		peers  int
	}{{"alone", false, 0}, {"beside-one-healthy", false, 1}, {"beside-healthy", false, 4}, {"beside-faults", true, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			n := chaosMessages(b)
			var p50, p99, sentP99, ingestP99 []float64
			for b.Loop() {
				res := runChaos(b, n, tc.faults, tc.peers, false)
				p50 = append(p50, quantile(res.healthy, 0.50))
				p99 = append(p99, quantile(res.healthy, 0.99))
				sentP99 = append(sentP99, quantile(res.healthySent, 0.99))
				ingestP99 = append(ingestP99, quantile(res.ingest, 0.99))
			}
			b.ReportMetric(median(p50), "p50-ms")
			b.ReportMetric(median(p99), "p99-ms")
			b.ReportMetric(median(sentP99), "send-p99-ms")
			b.ReportMetric(median(ingestP99), "ingest-p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// quantile returns the q quantile of ds in milliseconds.
func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, int(q*float64(len(s))))
	return float64(s[i]) / float64(time.Millisecond)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

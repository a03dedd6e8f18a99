package server_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/hookdtest"
)

// faultReceiver is one hostile receiver of the fault suite, with what hookd must make
// of it.
type faultReceiver struct {
	name     string
	url      func(t *testing.T) (url string, requests func() int, times func() []time.Time)
	schedule string // the endpoint's retry schedule
	timeout  int    // the endpoint's timeoutMs; 0 for the server's
	status   int    // the delivery's final status: 0 success, 2 fail
	requests int    // exactly this many requests reach the receiver
	gaps     []time.Duration
	check    func(t *testing.T, attempts []faultAttempt)
}

type faultAttempt struct {
	Response           string `json:"response"`
	ResponseStatusCode int    `json:"responseStatusCode"`
	Status             int    `json:"status"`
}

// handlerReceiver serves answer on an httptest server; answer gets the 0-based number
// of the request.
func handlerReceiver(answer func(i int, w http.ResponseWriter, r *http.Request)) func(t *testing.T) (string, func() int, func() []time.Time) {
	return func(t *testing.T) (string, func() int, func() []time.Time) {
		var mu sync.Mutex
		var times []time.Time
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			i := len(times)
			times = append(times, time.Now())
			mu.Unlock()
			answer(i, w, r)
		}))
		t.Cleanup(rc.Close)
		t.Cleanup(rc.CloseClientConnections) // ends the hanging handlers
		return rc.URL + "/hook", func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(times)
			}, func() []time.Time {
				mu.Lock()
				defer mu.Unlock()
				return append([]time.Time(nil), times...)
			}
	}
}

func rawReceiver(start func(t *testing.T) *hookdtest.RawReceiver) func(t *testing.T) (string, func() int, func() []time.Time) {
	return func(t *testing.T) (string, func() int, func() []time.Time) {
		rr := start(t)
		return rr.URL, rr.Requests, nil
	}
}

// hang never answers. It reads the body first: only then does net/http notice the
// client closing the connection and cancel the request's context.
func hang(_ int, _ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func answer(code int, body string, header ...string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// firstThen answers the first n requests with first and the others with then.
func firstThen(n int, first, then func(int, http.ResponseWriter, *http.Request)) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, r *http.Request) {
		if i < n {
			first(i, w, r)
			return
		}
		then(i, w, r)
	}
}

func responseHas(sub string) func(t *testing.T, as []faultAttempt) {
	return func(t *testing.T, as []faultAttempt) {
		for _, a := range as {
			if !strings.Contains(a.Response, sub) {
				t.Errorf("attempt response %q, want it to say %q", clip([]byte(a.Response)), sub)
			}
		}
	}
}

func storedAsText(max int) func(t *testing.T, as []faultAttempt) {
	return func(t *testing.T, as []faultAttempt) {
		for _, a := range as {
			if !utf8.ValidString(a.Response) || strings.ContainsRune(a.Response, 0) || len(a.Response) > max {
				t.Errorf("attempt response (%d bytes) %q is not valid text of at most %d bytes", len(a.Response), clip([]byte(a.Response)), max)
			}
		}
	}
}

var binary = func() string {
	b := make([]byte, 4096)
	_, _ = rand.Read(b)
	return string(b) + "\x00\xff\xfe"
}()

// faultReceivers is the fault suite's set of hostile receivers.
var faultReceivers = []faultReceiver{
	{name: "hangs", url: handlerReceiver(hang), schedule: "none", timeout: 300, status: 2, requests: 1, check: responseHas("timeout")},
	{name: "trickles its headers", url: rawReceiver(func(t *testing.T) *hookdtest.RawReceiver { return hookdtest.NewTrickleReceiver(t, 50*time.Millisecond) }),
		schedule: "none", timeout: 400, status: 2, requests: 1, check: responseHas("timeout")},
	{name: "trickles its body", url: handlerReceiver(func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for r.Context().Err() == nil {
			if _, err := w.Write([]byte("a")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}), schedule: "none", timeout: 400, status: 0, requests: 1},
	{name: "resets after reading the request", url: rawReceiver(func(t *testing.T) *hookdtest.RawReceiver { return hookdtest.NewResetReceiver(t, 0) }),
		schedule: "none", status: 2, requests: 1, check: responseHas("connection")},
	{name: "answers a huge body", url: handlerReceiver(func(_ int, w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("x", 1<<20))
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}), schedule: "none", status: 0, requests: 1, check: storedAsText(4 << 10)},
	{name: "answers a binary body", url: handlerReceiver(answer(200, binary)), schedule: "none", status: 0, requests: 1, check: storedAsText(4 << 10)},
	{name: "answers 200 with a NUL byte", url: handlerReceiver(answer(200, "ok\x00ok")), schedule: "none", status: 0, requests: 1, check: responseHas("ok")},
	{name: "answers 500 with invalid UTF-8 and NUL", url: handlerReceiver(answer(500, "bad \xff\xfe\x00 bytes")), schedule: "1s", status: 2, requests: 2,
		check: storedAsText(4 << 10)},
	{name: "answers 429 with Retry-After", url: handlerReceiver(firstThen(1, answer(429, "slow down", "Retry-After", "1"), answer(200, "ok"))),
		schedule: "1h", status: 0, requests: 2, gaps: []time.Duration{time.Second}},
	{name: "answers 503 with Retry-After", url: handlerReceiver(firstThen(2, answer(503, "busy", "Retry-After", "2"), answer(200, "ok"))),
		schedule: "1h,1h", status: 0, requests: 3, gaps: []time.Duration{2 * time.Second, 2 * time.Second}},
	{name: "fails on a short schedule", url: handlerReceiver(answer(500, "no")), schedule: "1s,2s", status: 2, requests: 3,
		gaps: []time.Duration{time.Second, 2 * time.Second}},
}

// TestFaultReceivers is the fault suite's receiver part: one endpoint per hostile
// receiver, one message to each, on both stores. Every message must reach its final
// state with exactly the requests its schedule allows (no resend beyond it), its
// attempts stored as text, retries kept on time, and the API must never answer 5xx.
func TestFaultReceivers(t *testing.T) {
	eachStore(t, func(t *testing.T, ts *testServer) {
		api := &faultAPI{t: t, ts: ts}
		appID := api.id("POST", "/api/v1/app", `{"name":"faults"}`)
		type running struct {
			faultReceiver
			epID, msgID string
			received    func() int
			times       func() []time.Time
			final       bool // its subtest ran and saw the delivery final
		}
		var runs []*running
		for i, fr := range faultReceivers {
			url, requests, times := fr.url(t)
			ep := map[string]any{"url": url, "filterTypes": []string{fmt.Sprintf("fault.%d", i)}, "retrySchedule": fr.schedule}
			if fr.timeout > 0 {
				ep["timeoutMs"] = fr.timeout
			}
			body, _ := json.Marshal(ep)
			runs = append(runs, &running{faultReceiver: fr, received: requests, times: times,
				epID: api.id("POST", "/api/v1/app/"+appID+"/endpoint", string(body))})
		}
		for i, r := range runs {
			r.msgID = api.id("POST", "/api/v1/app/"+appID+"/msg", fmt.Sprintf(`{"eventType":"fault.%d","payload":{"i":%d}}`, i, i))
		}
		deadline := time.Now().Add(30 * time.Second)
		for _, r := range runs {
			t.Run(r.name, func(t *testing.T) {
				status := -1
				for time.Now().Before(deadline) {
					var dests struct {
						Data []struct {
							Status int `json:"status"`
						} `json:"data"`
					}
					api.get("/api/v1/app/"+appID+"/msg/"+r.msgID+"/endpoint", &dests)
					if len(dests.Data) == 1 && (dests.Data[0].Status == 0 || dests.Data[0].Status == 2) {
						status = dests.Data[0].Status
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if status != r.status {
					t.Fatalf("delivery status %d, want %d (requests so far %d)", status, r.status, r.received())
				}
				r.final = true
				var attempts struct {
					Data []faultAttempt `json:"data"`
				}
				api.get("/api/v1/app/"+appID+"/attempt/endpoint/"+r.epID, &attempts)
				if len(attempts.Data) != r.requests || r.received() != r.requests {
					t.Fatalf("%d attempts recorded, %d requests received; want %d of each", len(attempts.Data), r.received(), r.requests)
				}
				if r.check != nil {
					r.check(t, attempts.Data)
				}
				if r.gaps != nil {
					checkGaps(t, r.times(), r.gaps)
				}
			})
		}
		// Nothing is sent again once final: wait past the shortest retry and count (the
		// receivers whose subtest ran: run alone, a subtest leaves the others going).
		time.Sleep(1500 * time.Millisecond)
		for _, r := range runs {
			if !r.final {
				continue
			}
			if got := r.received(); got != r.requests {
				t.Errorf("%s: %d requests after the delivery was final, want %d", r.name, got, r.requests)
			}
		}
		if t.Failed() {
			return
		}
		t.Logf("fault receivers: %d hostile receivers held (no 5xx, no lost message, no resend beyond the schedule)", len(runs))
	})
}

// checkGaps checks that retries came after their delay, within a margin for jitter
// (±10%) and scheduling.
func checkGaps(t *testing.T, times []time.Time, gaps []time.Duration) {
	t.Helper()
	if len(times) != len(gaps)+1 {
		t.Fatalf("%d requests, want %d", len(times), len(gaps)+1)
	}
	for i, want := range gaps {
		got := times[i+1].Sub(times[i])
		if got < want*9/10-50*time.Millisecond || got > want*11/10+750*time.Millisecond {
			t.Errorf("retry %d came %s after the previous attempt, want %s", i+1, got.Round(time.Millisecond), want)
		}
	}
}

// faultAPI calls the API and fails the test on any answer that is not 2xx.
type faultAPI struct {
	t  *testing.T
	ts *testServer
}

func (a *faultAPI) id(method, path, body string) string {
	a.t.Helper()
	code, b := a.ts.raw(a.t, method, path, body)
	if code/100 != 2 {
		a.t.Fatalf("%s %s = %d %s", method, path, code, clip(b))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		a.t.Fatalf("%s %s: no id in %s", method, path, clip(b))
	}
	return out.ID
}

func (a *faultAPI) get(path string, out any) {
	a.t.Helper()
	code, b := a.ts.raw(a.t, "GET", path, "")
	if code != http.StatusOK {
		a.t.Fatalf("GET %s = %d %s", path, code, clip(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
}

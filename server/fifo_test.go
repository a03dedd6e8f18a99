package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

// fifoRetrySchedule retries quickly and practically never runs out for a receiver
// that fails a third of the time (0.3^61 per message).
const fifoRetrySchedule = "exponential:10ms,50ms,60"

// fifoKeys returns the ordering keys of the FIFO tests: "" (messages sent without
// a key, which share one implicit key) and k0…k{n-1}.
func fifoKeys(n int) []string {
	keys := []string{""}
	for i := range n {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	return keys
}

// fifoMessage is message n of key, as the FIFO tests send it.
func fifoMessage(key string, n int) map[string]any {
	in := map[string]any{"eventType": "fifo.test", "eventId": fmt.Sprintf("%s-%d", key, n),
		"payload": map[string]any{"k": key, "n": n}}
	if key != "" {
		in["orderingKey"] = key
	}
	return in
}

// TestFIFOOrderSQLite runs `hookd serve` on a SQLite file with two FIFO endpoints
// whose receivers fail a third of their requests at random, and sends 11 keys × 30
// messages (10 keys and the messages without one), each key's messages one after
// another. Each receiver must see every key's messages in send order: message n
// first arrives only after message n-1 was answered 2xx (hookdtest.FIFOReceiver).
func TestFIFOOrderSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the FIFO order test in -short mode")
	}
	bin := hookdtest.BuildBinary(t)
	p := hookdtest.StartServe(t, bin, nil, "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "hookd.db"),
		"--allow-private")
	api := hookdtest.API{Token: p.Token, Client: &http.Client{Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	keys, perKey := fifoKeys(10), 30
	var app struct{ ID string }
	if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app", nil, map[string]any{"name": "fifo"}, &app); err != nil {
		t.Fatal(err)
	}
	var rcvs []*hookdtest.FIFOReceiver
	for i := range 2 {
		rc := hookdtest.NewFIFOReceiver(t, len(keys)*perKey, 1.0/3, uint64(i+1))
		var ep struct {
			FIFO            bool   `json:"fifo"`
			FIFOOnExhausted string `json:"fifoOnExhausted"`
		}
		if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app/"+app.ID+"/endpoint", nil,
			map[string]any{"url": rc.URL, "fifo": true, "retrySchedule": fifoRetrySchedule}, &ep); err != nil {
			t.Fatal(err)
		}
		if !ep.FIFO || ep.FIFOOnExhausted != "skip" {
			t.Fatalf("created endpoint fifo %v fifoOnExhausted %q, want true and skip", ep.FIFO, ep.FIFOOnExhausted)
		}
		rcvs = append(rcvs, rc)
	}
	start := time.Now()
	err := hookdtest.SendOrdered(ctx, keys, perKey, func(ctx context.Context, key string, n int) error {
		var out struct {
			OrderingKey *string `json:"orderingKey"`
		}
		if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app/"+app.ID+"/msg", nil, fifoMessage(key, n), &out); err != nil {
			return err
		}
		if (key == "") != (out.OrderingKey == nil) || (out.OrderingKey != nil && *out.OrderingKey != key) {
			return fmt.Errorf("message answer orderingKey %v, want %q", out.OrderingKey, key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, rc := range rcvs {
		select {
		case <-rc.Done():
		case <-ctx.Done():
			t.Fatalf("receiver %d: not every message arrived; missing %s", i, rc.Missing(keys, perKey))
		}
		st := rc.Stats()
		for _, v := range st.Violations {
			t.Errorf("receiver %d: %s", i, v)
		}
		t.Logf("receiver %d: %d messages in order in %s; %d requests, %d answered 500, %d repeated (%d after a 2xx)",
			i, st.Acked, time.Since(start).Round(time.Millisecond), st.Requests, st.Failed, st.Repeats, st.Duplicates)
	}
}

// TestFIFOStopAndReleaseAPI checks a FIFO endpoint that stops on exhaustion through
// the API: the failed message halts its key, the others go on, and POST
// …/fifo/release lets the halted key go on.
func TestFIFOStopAndReleaseAPI(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	p := hookdtest.StartServe(t, bin, nil, "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "hookd.db"),
		"--allow-private")
	api := hookdtest.API{Token: p.Token, Client: &http.Client{Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var app struct{ ID string }
	if _, err := api.Do(ctx, "POST", p.URL+"/api/v1/app", nil, map[string]any{"name": "fifo"}, &app); err != nil {
		t.Fatal(err)
	}
	appURL := p.URL + "/api/v1/app/" + app.ID

	// Bad settings are refused with a 422 naming the field.
	for _, bad := range []struct {
		path string
		body map[string]any
		want string
	}{
		{"/endpoint", map[string]any{"url": "https://example.com", "fifo": true, "fifoOnExhausted": "later"}, "fifoOnExhausted"},
		{"/msg", map[string]any{"eventType": "a", "payload": map[string]any{}, "orderingKey": strings.Repeat("x", 257)}, "orderingKey"},
		{"/msg", map[string]any{"eventType": "a", "payload": map[string]any{}, "orderingKey": "a\nb"}, "orderingKey"},
	} {
		status, err := api.Do(ctx, "POST", appURL+bad.path, nil, bad.body, nil)
		if status != http.StatusUnprocessableEntity || err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("POST %s %v: %d %v, want 422 about %s", bad.path, bad.body, status, err, bad.want)
		}
	}

	// Message 1 of key "a" always fails; every other message succeeds.
	rc := hookdtest.NewFIFOReceiver(t, 5, 0, 1)
	rc.FailFunc = func(key string, n int) bool { return key == "a" && n == 1 }
	var ep struct {
		ID              string `json:"id"`
		FIFOOnExhausted string `json:"fifoOnExhausted"`
	}
	if _, err := api.Do(ctx, "POST", appURL+"/endpoint", nil, map[string]any{"url": rc.URL, "fifo": true,
		"fifoOnExhausted": "stop", "retrySchedule": "10ms"}, &ep); err != nil {
		t.Fatal(err)
	}
	if ep.FIFOOnExhausted != "stop" {
		t.Fatalf("fifoOnExhausted %q, want stop", ep.FIFOOnExhausted)
	}
	for _, m := range []struct {
		key string
		n   int
	}{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}, {"b", 1}} {
		if _, err := api.Do(ctx, "POST", appURL+"/msg", nil, fifoMessage(m.key, m.n), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Key b goes on; a's message 1 fails twice (the first try and its one retry).
	for rc.Stats().Acked < 3 || rc.Stats().Failed < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for a0, b0, b1 and two failures of a1: %+v", rc.Stats())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// GET …/fifo shows the halted key once the failure is recorded (shortly after the
	// receiver answered it), in the shape hookd's openapi.json gives; b's result may
	// be recorded later still (it is sending until then).
	fifoURL := appURL + "/endpoint/" + ep.ID + "/fifo"
	var state fifoState
	var raw json.RawMessage
	for state.HaltedCount == 0 || state.Sending > 0 {
		if _, err := api.Do(ctx, "GET", fifoURL, nil, nil, &raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &state); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("a1 was not held: %s", raw)
		case <-time.After(20 * time.Millisecond):
		}
	}
	own, err := loadOwn()
	if err != nil {
		t.Fatal(err)
	}
	if err := own.validate("#/components/schemas/EndpointFifoOut", raw); err != nil {
		t.Errorf("GET …/fifo answer %s does not match openapi.json: %v", raw, err)
	}
	if !state.FIFO || state.FIFOOnExhausted != "stop" || state.HaltedCount != 1 || len(state.Halted) != 1 {
		t.Fatalf("GET …/fifo = %s, want fifo, stop and one halted key", raw)
	}
	if h := state.Halted[0]; h.OrderingKey != "a" || h.LastResponseStatusCode == nil || *h.LastResponseStatusCode != 500 ||
		h.LastError == nil || !strings.Contains(*h.LastError, "halted") || h.Since.IsZero() {
		t.Errorf("halted key %+v, want a, held after a 500 whose error says the key is halted", h)
	}
	if state.Pending != 1 || state.Keys != 1 { // a2 waits behind a1; b is done
		t.Errorf("GET …/fifo pending %d keys %d, want 1 and 1: %s", state.Pending, state.Keys, raw)
	}
	if st := rc.Stats(); st.Acked > 3 {
		t.Fatalf("a2 arrived before the release: %+v", st)
	}
	var out struct {
		Released int `json:"released"`
	}
	if _, err := api.Do(ctx, "POST", fifoURL+"/release", nil, map[string]any{"orderingKey": "a"}, &out); err != nil || out.Released != 1 {
		t.Fatalf("release: %d, %v; want 1", out.Released, err)
	}
	for rc.Stats().Acked < 4 {
		select {
		case <-ctx.Done():
			t.Fatalf("a2 did not arrive after the release: %+v", rc.Stats())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if st := rc.Stats(); len(st.Violations) != 1 || !strings.Contains(st.Violations[0], `message 2 arrived before message 1 was answered`) {
		t.Errorf("violations %v, want only a2 after the failed a1", st.Violations)
	}
	if _, err := api.Do(ctx, "GET", fifoURL, nil, nil, &state); err != nil || state.HaltedCount != 0 || len(state.Halted) != 0 {
		t.Errorf("GET …/fifo after the release: %+v, %v; want no halted key", state, err)
	}
	status, err := api.Do(ctx, "POST", p.URL+"/api/v1/app/"+app.ID+"/endpoint/ep_missing/fifo/release", nil, map[string]any{}, nil)
	if status != http.StatusNotFound {
		t.Errorf("release on a missing endpoint: %d %v, want 404", status, err)
	}
	if status, err := api.Do(ctx, "GET", p.URL+"/api/v1/app/"+app.ID+"/endpoint/ep_missing/fifo", nil, nil, nil); status != http.StatusNotFound {
		t.Errorf("FIFO state of a missing endpoint: %d %v, want 404", status, err)
	}
	if status, err := api.Do(ctx, "GET", fifoURL+"?limit=0", nil, nil, nil); status != http.StatusUnprocessableEntity {
		t.Errorf("FIFO state with limit=0: %d %v, want 422", status, err)
	}
}

// fifoState is the answer of GET …/endpoint/{endpoint_id}/fifo.
type fifoState struct {
	FIFO            bool   `json:"fifo"`
	FIFOOnExhausted string `json:"fifoOnExhausted"`
	Pending         int    `json:"pending"`
	Sending         int    `json:"sending"`
	Keys            int    `json:"keys"`
	HaltedCount     int    `json:"haltedCount"`
	Halted          []struct {
		OrderingKey            string    `json:"orderingKey"`
		MsgID                  string    `json:"msgId"`
		Since                  time.Time `json:"since"`
		LastAttemptID          *string   `json:"lastAttemptId"`
		LastResponseStatusCode *int      `json:"lastResponseStatusCode"`
		LastError              *string   `json:"lastError"`
	} `json:"halted"`
}

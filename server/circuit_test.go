package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/server"
)

// TestEndpointMaxConcurrency sets, keeps, resets and refuses an endpoint's
// maxConcurrency through the API, and finds the circuit metrics on /metrics.
func TestEndpointMaxConcurrency(t *testing.T) {
	ts := startServer(t)
	code, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("create app = %d %s", code, b)
	}
	var app struct{ ID string }
	json.Unmarshal(b, &app)
	base := "/api/v1/app/" + app.ID + "/endpoint"
	var ep struct {
		ID             string `json:"id"`
		MaxConcurrency *int   `json:"maxConcurrency"`
	}
	read := func(code int, b []byte, want int) {
		t.Helper()
		if code/100 != 2 {
			t.Fatalf("answer %d %s", code, b)
		}
		ep.MaxConcurrency = nil
		if err := json.Unmarshal(b, &ep); err != nil {
			t.Fatal(err)
		}
		if got := val(ep.MaxConcurrency); got != want || want == 0 && ep.MaxConcurrency != nil {
			t.Fatalf("maxConcurrency = %v in %s, want %d", ep.MaxConcurrency, b, want)
		}
	}
	code, b = ts.raw(t, "POST", base, `{"url":"https://example.com/hook","maxConcurrency":4}`)
	read(code, b, 4)
	code, b = ts.raw(t, "PUT", base+"/"+ep.ID, `{"url":"https://example.com/hook2"}`)
	read(code, b, 4) // a PUT without the extension keeps it
	code, b = ts.raw(t, "PATCH", base+"/"+ep.ID, `{"maxConcurrency":null}`)
	read(code, b, 0)
	for _, bad := range []string{`-1`, `10001`, `"x"`} {
		code, b = ts.raw(t, "PATCH", base+"/"+ep.ID, `{"maxConcurrency":`+bad+`}`)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "maxConcurrency") {
			t.Errorf("maxConcurrency %s = %d %s, want 422 naming the field", bad, code, b)
		}
	}
	code, b = ts.raw(t, "GET", base+"/"+ep.ID+"/circuit", "")
	if code != http.StatusOK || !strings.Contains(string(b), `"state":"closed"`) {
		t.Errorf("circuit of a new endpoint = %d %s, want closed", code, b)
	}
	if code, b := ts.raw(t, "GET", base+"/ep_missing/circuit", ""); code != http.StatusNotFound {
		t.Errorf("circuit of an unknown endpoint = %d %s, want 404", code, b)
	}
	code, b = ts.raw(t, "GET", "/metrics", "")
	for _, m := range []string{`hookd_endpoint_circuits{state="open"}`, "hookd_endpoint_circuit_transitions_total"} {
		if code != 200 || !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestCircuitAcrossNodes runs three servers on one PostgreSQL schema against an
// endpoint that always answers 500: its circuit opens for all of them, and the nodes
// agree on one probe per backoff, so the endpoint gets no more requests than the
// failures that opened the circuit, the requests in flight then (its
// maxConcurrency), and the probes its circuit recorded.
func TestCircuitAcrossNodes(t *testing.T) {
	db := postgresDB(t)
	edit := func(c *server.Config) {
		c.DB = db
		c.CircuitFailures = 3
		c.CircuitBackoff, c.CircuitMaxBackoff = 500*time.Millisecond, 500*time.Millisecond
		c.RetrySchedule, _ = hookd.ParseRetrySchedule(strings.Repeat("1s,", 30) + "1s")
	}
	nodes := []*testServer{startServer(t, edit), startServer(t, edit), startServer(t, edit)}
	var requests atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(rcv.Close)
	code, b := nodes[0].raw(t, "POST", "/api/v1/app", `{"name":"acme","uid":"acme"}`)
	if code != http.StatusCreated {
		t.Fatalf("create app = %d %s", code, b)
	}
	code, b = nodes[0].raw(t, "POST", "/api/v1/app/acme/endpoint", `{"url":"`+rcv.URL+`","uid":"down","maxConcurrency":3}`)
	if code != http.StatusCreated {
		t.Fatalf("create endpoint = %d %s", code, b)
	}
	for i := range 60 {
		if code, b := nodes[i%3].raw(t, "POST", "/api/v1/app/acme/msg", `{"eventType":"a","payload":{}}`); code != http.StatusAccepted {
			t.Fatalf("send = %d %s", code, b)
		}
	}
	type circuit struct {
		State       string
		Transitions []struct{ To string }
	}
	read := func() circuit {
		var c circuit
		code, b := nodes[1].raw(t, "GET", "/api/v1/app/acme/endpoint/down/circuit", "")
		if code != http.StatusOK || json.Unmarshal(b, &c) != nil {
			t.Fatalf("circuit = %d %s", code, b)
		}
		return c
	}
	// Wait for five probes, at one per 500 ms backoff.
	probes := func(c circuit) int {
		n := 0
		for _, tr := range c.Transitions {
			if tr.To == "half-open" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	c := read()
	for probes(c) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("circuit %+v: fewer than 5 probes in 30 s", c)
		}
		time.Sleep(20 * time.Millisecond)
		c = read()
	}
	got := requests.Load()
	c = read() // the probes counted after the requests, so none is missed
	if bound := int64(3 + 3 + probes(c)); got > bound || got < 3 {
		t.Fatalf("%d requests with %d probes recorded; want from 3 to %d (3 failures, up to 3 in flight, the probes)",
			got, probes(c), bound)
	}
	t.Logf("%d requests, %d probes", got, probes(c))
}

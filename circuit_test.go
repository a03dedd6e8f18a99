package hookd_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// TestCircuit walks a circuit through its states with the numbers of its policy.
func TestCircuit(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := hookd.CircuitPolicy{Failures: 3, Backoff: 5 * time.Second, MaxBackoff: 15 * time.Second}
	c := hookd.NewCircuit("app_1", "ep_1")
	gate := func(at time.Time, want hookd.CircuitGate, until time.Time) {
		t.Helper()
		g, u := c.Gate(at)
		if g != want || !u.Equal(until) {
			t.Fatalf("Gate(t0+%v) = %v until %v, want %v until %v", at.Sub(t0), g, u, want, until)
		}
	}
	for i := range 2 {
		c.Failed(t0, p, "connection refused")
		gate(t0, hookd.GateSend, time.Time{})
		if c.Failures != i+1 {
			t.Fatalf("failures = %d, want %d", c.Failures, i+1)
		}
	}
	c.Succeeded(t0) // a success in between starts the count again
	for range 3 {
		c.Failed(t0, p, "connection refused")
	}
	if c.State != hookd.CircuitOpen || !c.Since.Equal(t0) {
		t.Fatalf("state after 3 failures = %s since %v, want open since t0", c.State, c.Since)
	}
	gate(t0.Add(time.Second), hookd.GateWait, t0.Add(5*time.Second))
	gate(t0.Add(5*time.Second), hookd.GateProbe, time.Time{})
	if c.Failed(t0.Add(time.Second), p, "late") {
		t.Error("a failure of a request sent before the circuit opened changed it")
	}
	// Probes fail: the backoff doubles up to its maximum.
	at := t0.Add(5 * time.Second)
	for _, want := range []time.Duration{10 * time.Second, 15 * time.Second, 15 * time.Second} {
		c.TakeProbe(at, at.Add(20*time.Second))
		gate(at, hookd.GateWait, at.Add(c.Backoff))                // the backoff is shorter than the probe's lease
		gate(at.Add(20*time.Second), hookd.GateProbe, time.Time{}) // a lost probe may be taken again
		c.Failed(at.Add(time.Second), p, "timeout")
		if c.State != hookd.CircuitOpen || c.Backoff != want {
			t.Fatalf("after a failed probe: %s with backoff %v, want open with %v", c.State, c.Backoff, want)
		}
		at = c.NextProbe
	}
	c.TakeProbe(at, at.Add(time.Minute))
	if !c.Succeeded(at) || c.State != hookd.CircuitClosed || c.Backoff != 0 || !c.NextProbe.IsZero() {
		t.Fatalf("after a good probe: %+v, want closed", c)
	}
	gate(at, hookd.GateSend, time.Time{})
	// A pause waits whatever the state, and only grows.
	c.Pause(at.Add(30 * time.Second))
	if c.Pause(at.Add(10 * time.Second)) {
		t.Error("a shorter pause replaced a longer one")
	}
	gate(at, hookd.GateWait, at.Add(30*time.Second))
	// The transitions: open, then three rounds of half-open and open, a fourth
	// half-open and closed; the oldest are dropped past MaxCircuitTransitions.
	want := []hookd.CircuitState{hookd.CircuitOpen, hookd.CircuitHalfOpen, hookd.CircuitOpen, hookd.CircuitHalfOpen,
		hookd.CircuitOpen, hookd.CircuitHalfOpen, hookd.CircuitOpen, hookd.CircuitHalfOpen, hookd.CircuitClosed}
	if len(c.Transitions) != len(want) {
		t.Fatalf("%d transitions, want %d", len(c.Transitions), len(want))
	}
	for i, tr := range c.Transitions {
		if tr.To != want[i] {
			t.Errorf("transition %d to %s, want %s", i, tr.To, want[i])
		}
	}
	for range hookd.MaxCircuitTransitions {
		c.TakeProbe(at, at)
		c.Succeeded(at)
	}
	if len(c.Transitions) != hookd.MaxCircuitTransitions {
		t.Errorf("%d transitions kept, want %d", len(c.Transitions), hookd.MaxCircuitTransitions)
	}
}

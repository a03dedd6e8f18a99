package hookd

import (
	"context"
	"time"
)

// CircuitState is the state of an endpoint's circuit breaker.
type CircuitState string

// The circuit states. A closed circuit sends as usual. An open one sends nothing:
// the endpoint's deliveries wait in the store, their attempts untouched, until
// NextProbe. Then one delivery, the probe, is sent while the circuit is half-open
// (every other waits for it); its success closes the circuit, its failure opens it
// again for twice the backoff, up to the policy's maximum.
const (
	CircuitClosed   CircuitState = "closed"
	CircuitOpen     CircuitState = "open"
	CircuitHalfOpen CircuitState = "half-open"
)

// MaxCircuitTransitions is how many of its latest transitions a circuit keeps.
const MaxCircuitTransitions = 50

// Circuit is one endpoint's circuit breaker and its shared pause, as every node
// delivering to the endpoint sees it: the store holds it, and nodes change it only
// through SwapCircuit, so that they agree on who sends the one probe.
type Circuit struct {
	AppID      string
	EndpointID string
	State      CircuitState
	// Since is when the circuit entered State; zero for a circuit that never opened.
	Since time.Time
	// Failures counts the consecutive failed attempts while closed.
	Failures int
	// Backoff is how long the circuit stayed open before its latest probe.
	Backoff time.Duration
	// NextProbe is when an open circuit lets its probe go.
	NextProbe time.Time
	// ProbeUntil is when a half-open circuit's probe counts as lost: another node may
	// take the probe after it.
	ProbeUntil time.Time
	// PausedUntil is when a Retry-After on a 429, 502, 503 or 504 answer stops
	// pausing the whole endpoint.
	PausedUntil time.Time
	// Transitions are the latest state changes, oldest first.
	Transitions []CircuitTransition
	// Version counts the circuit's stored changes; 0 for one never stored.
	Version int64
}

// CircuitTransition is one change of a circuit's state.
type CircuitTransition struct {
	From, To CircuitState
	At       time.Time
	Reason   string
}

// CircuitPolicy is when circuits open and how long they stay open.
type CircuitPolicy struct {
	// Failures is how many consecutive failures open the circuit.
	Failures int
	// Backoff is how long a circuit stays open before its first probe; each failed
	// probe doubles it, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// CircuitStore keeps the endpoints' circuits.
type CircuitStore interface {
	// Circuit returns the endpoint's circuit; one never stored is closed, with
	// Version 0. It does not check that the endpoint exists.
	Circuit(ctx context.Context, appID, endpointID string) (*Circuit, error)
	// SwapCircuit stores c if the stored circuit's version is still c.Version (0: none
	// stored yet), with Version c.Version+1, and reports whether it did; on success
	// c.Version is the new version. A circuit goes when its endpoint is deleted.
	SwapCircuit(ctx context.Context, c *Circuit) (bool, error)
}

// NewCircuit returns the closed circuit of an endpoint that has none stored.
func NewCircuit(appID, endpointID string) *Circuit {
	return &Circuit{AppID: appID, EndpointID: endpointID, State: CircuitClosed}
}

// Clone returns a copy of c that shares nothing with it.
func (c *Circuit) Clone() *Circuit {
	n := *c
	n.Transitions = append([]CircuitTransition(nil), c.Transitions...)
	return &n
}

// CircuitGate is what a circuit lets a delivery do.
type CircuitGate int

// The gates.
const (
	// GateSend sends as usual.
	GateSend CircuitGate = iota
	// GateProbe may send as the circuit's probe, once TakeProbe is stored.
	GateProbe
	// GateWait waits, unattempted, until the time Gate returns.
	GateWait
)

// Gate says what a delivery to the endpoint may do at now: send, probe, or wait
// until the time returned.
func (c *Circuit) Gate(now time.Time) (CircuitGate, time.Time) {
	if now.Before(c.PausedUntil) {
		return GateWait, c.PausedUntil
	}
	switch c.State {
	case CircuitOpen:
		if now.Before(c.NextProbe) {
			return GateWait, c.NextProbe
		}
		return GateProbe, time.Time{}
	case CircuitHalfOpen:
		if now.Before(c.ProbeUntil) {
			// Until the probe's answer is due, but no longer than the backoff: a probe
			// that fails at once opens the circuit again for about that long, and one
			// that succeeds should not leave the others waiting for its timeout.
			until := c.ProbeUntil
			if c.Backoff > 0 && now.Add(c.Backoff).Before(until) {
				until = now.Add(c.Backoff)
			}
			return GateWait, until
		}
		return GateProbe, time.Time{}
	}
	return GateSend, time.Time{}
}

// TakeProbe makes the circuit half-open with a probe that counts as lost after
// until.
func (c *Circuit) TakeProbe(now, until time.Time) {
	if c.State != CircuitHalfOpen {
		c.to(CircuitHalfOpen, now, "probe sent")
	}
	c.ProbeUntil = until
}

// Failed counts a failed attempt at now: the policy's Failures in a row open a closed
// circuit, and a failed probe opens a half-open one again with twice the backoff. It
// reports whether the circuit changed.
func (c *Circuit) Failed(now time.Time, p CircuitPolicy, reason string) bool {
	switch c.State {
	case CircuitHalfOpen:
		c.Backoff = min(max(2*c.Backoff, p.Backoff), max(p.MaxBackoff, p.Backoff))
		c.to(CircuitOpen, now, "probe failed: "+reason)
		c.NextProbe, c.ProbeUntil = now.Add(c.Backoff), time.Time{}
		return true
	case CircuitOpen:
		return false // sent before the circuit opened: it is open already
	}
	c.Failures++
	if c.Failures < p.Failures {
		return true
	}
	c.Backoff = p.Backoff
	c.to(CircuitOpen, now, reason)
	c.NextProbe, c.ProbeUntil = now.Add(c.Backoff), time.Time{}
	return true
}

// Succeeded counts a successful attempt at now: it closes the circuit and resets the
// failures. It reports whether the circuit changed.
func (c *Circuit) Succeeded(now time.Time) bool {
	changed := c.Failures != 0
	c.Failures = 0
	if c.State == CircuitClosed || c.State == "" {
		return changed
	}
	c.to(CircuitClosed, now, "attempt succeeded")
	c.Backoff, c.NextProbe, c.ProbeUntil = 0, time.Time{}, time.Time{}
	return true
}

// Pause pauses the whole endpoint until until (a Retry-After), unless it is paused
// longer already. It reports whether the circuit changed.
func (c *Circuit) Pause(until time.Time) bool {
	if !until.After(c.PausedUntil) {
		return false
	}
	c.PausedUntil = until
	return true
}

// to moves the circuit to state at now, keeping the transition.
func (c *Circuit) to(state CircuitState, now time.Time, reason string) {
	from := c.State
	if from == "" {
		from = CircuitClosed
	}
	c.State, c.Since = state, now
	c.Transitions = append(c.Transitions, CircuitTransition{From: from, To: state, At: now, Reason: reason})
	if n := len(c.Transitions) - MaxCircuitTransitions; n > 0 {
		c.Transitions = append([]CircuitTransition(nil), c.Transitions[n:]...)
	}
}

package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// circuitOut is an endpoint's circuit breaker as the API shows it (a hookd
// extension).
type circuitOut struct {
	State       hookd.CircuitState `json:"state"`
	Since       *time.Time         `json:"since"`
	Failures    int                `json:"failures"`
	BackoffMs   int64              `json:"backoffMs"`
	NextProbeAt *time.Time         `json:"nextProbeAt"`
	PausedUntil *time.Time         `json:"pausedUntil"`
	Transitions []transitionOut    `json:"transitions"`
}

// transitionOut is one change of a circuit's state.
type transitionOut struct {
	From   hookd.CircuitState `json:"from"`
	To     hookd.CircuitState `json:"to"`
	At     time.Time          `json:"at"`
	Reason string             `json:"reason"`
}

// optTime is t in UTC, or nil when zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func circuitView(c *hookd.Circuit, now time.Time) circuitOut {
	out := circuitOut{
		State: c.State, Since: optTime(c.Since), Failures: c.Failures, BackoffMs: c.Backoff.Milliseconds(),
		Transitions: []transitionOut{},
	}
	switch c.State {
	case hookd.CircuitOpen:
		out.NextProbeAt = optTime(c.NextProbe)
	case hookd.CircuitHalfOpen:
		out.NextProbeAt = optTime(c.ProbeUntil) // when the probe in flight counts as lost
	}
	if now.Before(c.PausedUntil) {
		out.PausedUntil = optTime(c.PausedUntil)
	}
	for i := len(c.Transitions) - 1; i >= 0; i-- { // newest first
		t := c.Transitions[i]
		out.Transitions = append(out.Transitions, transitionOut{From: t.From, To: t.To, At: t.At.UTC(), Reason: t.Reason})
	}
	return out
}

// getEndpointCircuit answers the endpoint's circuit breaker state and its latest
// transitions.
func (s *Server) getEndpointCircuit(w http.ResponseWriter, r *http.Request) error {
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	c, err := s.store.Circuit(r.Context(), a.ID, e.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, circuitView(c, s.now()))
	return nil
}

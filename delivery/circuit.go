package delivery

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd"
	"golang.org/x/time/rate"
)

// Circuit breaking. Each endpoint has a circuit, kept in the store so that every node
// sees the same one (see hookd.Circuit). CircuitFailures consecutive failures (no
// answer, or a 5xx) open it: from then on its deliveries are given back to the store,
// unattempted, until the circuit's next probe. The node that swaps the circuit to
// half-open first sends the probe; the others keep waiting. The probe's success
// closes the circuit, its failure opens it again for twice as long, up to
// CircuitMaxBackoff. A Retry-After on a 429, 502, 503 or 504 answer pauses the whole
// endpoint the same way, on every node.
//
// A lane reads its circuit from the store at most once per CacheTTL while its
// endpoint answers well, and before every request while it does not (after a
// failure, while open, half-open or paused): a failing endpoint is thus seen open by
// every node at its next request.

// circuitFailure reports whether a response counts against the endpoint's circuit:
// no usable answer, or a server error.
func circuitFailure(r response) bool {
	return r.err != "" || r.code >= 500
}

// throttling reports whether a response asks hookd to slow down.
func throttling(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// laneCircuit is a lane's view of its endpoint's circuit.
type laneCircuit struct {
	mu sync.Mutex // serialises this node's reads and swaps of the circuit
	c  atomic.Pointer[hookd.Circuit]
	at time.Time // when c was read from the store (wall clock); guarded by mu
	// troubled lanes read the circuit before every request; guarded by mu.
	troubled bool
}

// circuitOn reports whether circuits are kept for the endpoint.
func (d *Dispatcher) circuitOn(info *endpointInfo) bool {
	return d.cfg.CircuitFailures > 0 && !info.trusted
}

// policy is the circuits' policy.
func (d *Dispatcher) policy() hookd.CircuitPolicy {
	return hookd.CircuitPolicy{Failures: d.cfg.CircuitFailures, Backoff: d.cfg.CircuitBackoff, MaxBackoff: d.cfg.CircuitMaxBackoff}
}

// readCircuit reads the lane's circuit from the store; lc.mu is held.
func (d *Dispatcher) readCircuit(ctx context.Context, lc *laneCircuit, appID, endpointID string) (*hookd.Circuit, error) {
	c, err := d.store.Circuit(ctx, appID, endpointID)
	if err != nil {
		return nil, err
	}
	lc.c.Store(c)
	lc.at = time.Now()
	return c, nil
}

// gate asks the endpoint's circuit whether dl may be sent now. It returns whether to
// send, and otherwise until when dl waits. Of the nodes that find an open circuit due
// for its probe, the one whose swap to half-open succeeds sends it.
func (d *Dispatcher) gate(ctx context.Context, l *lane, info *endpointInfo, dl *hookd.Delivery) (bool, time.Time) {
	if !d.circuitOn(info) {
		return true, time.Time{}
	}
	lc := &l.circuit
	lc.mu.Lock()
	defer lc.mu.Unlock()
	now := d.cfg.Now()
	c := lc.c.Load()
	if c != nil {
		// A wait the store agreed on lasts; nothing but this node's own probe or a
		// probe due at the same time ends it early.
		if g, until := c.Gate(now); g == hookd.GateWait {
			return false, until
		}
	}
	if c == nil || lc.troubled || d.cfg.CacheTTL < 0 || time.Since(lc.at) >= d.cfg.CacheTTL {
		var err error
		if c, err = d.readCircuit(ctx, lc, dl.AppID, dl.EndpointID); err != nil {
			d.log.Error("read circuit", "endpoint", dl.EndpointID, "err", err)
			return false, now.Add(time.Second)
		}
	}
	for range 3 {
		g, until := c.Gate(now)
		switch g {
		case hookd.GateSend:
			return true, time.Time{}
		case hookd.GateWait:
			return false, until
		}
		next := c.Clone()
		next.TakeProbe(now, now.Add(info.timeout+2*time.Second))
		ok, err := d.store.SwapCircuit(ctx, next)
		if err != nil {
			d.log.Error("take circuit probe", "endpoint", dl.EndpointID, "err", err)
			return false, now.Add(time.Second)
		}
		if ok {
			lc.c.Store(next)
			lc.at, lc.troubled = time.Now(), true
			d.transitioned(c, next)
			return true, time.Time{}
		}
		if c, err = d.readCircuit(ctx, lc, dl.AppID, dl.EndpointID); err != nil {
			d.log.Error("read circuit", "endpoint", dl.EndpointID, "err", err)
			return false, now.Add(time.Second)
		}
	}
	return false, now.Add(time.Second)
}

// circuitWait reports whether dl's endpoint, as its lane last read its circuit, may
// not be sent to now (open before its probe, half-open with its probe in flight, or
// paused), and until when; the claim loop and the hand-off leave such deliveries in
// the store until then instead of queueing them, since the lane's gate would only
// give them back.
func (d *Dispatcher) circuitWait(dl *hookd.Delivery, now time.Time) (time.Time, bool) {
	d.mu.Lock()
	l := d.lanes[dl.EndpointID]
	d.mu.Unlock()
	if l == nil {
		return time.Time{}, false
	}
	return l.circuitWait(now)
}

// circuitWait is Dispatcher.circuitWait for the lane l.
func (l *lane) circuitWait(now time.Time) (time.Time, bool) {
	c := l.circuit.c.Load()
	if c == nil {
		return time.Time{}, false
	}
	if g, until := c.Gate(now); g == hookd.GateWait {
		return roundUp(until), true
	}
	return time.Time{}, false
}

// roundUp rounds t up to a multiple of 100 ms, so that deliveries given back until
// about the same time are stored due at one time (one postponement for them all)
// and never before t. A time already on the grid is kept: a probe due at t finds
// the deliveries waiting for it due too.
func roundUp(t time.Time) time.Time {
	if r := t.Truncate(100 * time.Millisecond); r.Before(t) {
		return r.Add(100 * time.Millisecond)
	}
	return t
}

// probeWait reports, for a delivery claimed while its endpoint's circuit is due for
// its probe, until when it waits because another delivery of the same claim goes
// first as the probe: the probe's backoff, the longest a half-open circuit keeps the
// others waiting (hookd.Circuit.Gate). probing holds the endpoints whose probe the
// claim has picked already.
func (d *Dispatcher) probeWait(dl *hookd.Delivery, now time.Time, probing map[string]bool) (time.Time, bool) {
	d.mu.Lock()
	l := d.lanes[dl.EndpointID]
	d.mu.Unlock()
	if l == nil {
		return time.Time{}, false
	}
	c := l.circuit.c.Load()
	if c == nil {
		return time.Time{}, false
	}
	if g, _ := c.Gate(now); g != hookd.GateProbe {
		return time.Time{}, false
	}
	if !probing[dl.EndpointID] {
		probing[dl.EndpointID] = true
		return time.Time{}, false
	}
	backoff := max(c.Backoff, d.cfg.CircuitBackoff)
	return roundUp(now.Add(backoff)), true
}

// noteOutcome tells the endpoint's circuit, and its lane's adaptive limits, how a
// request went: successes and failures move the circuit, throttling answers halve
// the lane's concurrency and rate (successes add them back a little at a time), and a
// throttling answer's Retry-After pauses the endpoint on every node.
func (d *Dispatcher) noteOutcome(ctx context.Context, l *lane, info *endpointInfo, dl *hookd.Delivery, r response) {
	throttled := r.err == "" && throttling(r.code)
	d.mu.Lock()
	switch {
	case throttled:
		d.slowDown(l, r.duration)
	case r.err == "" && r.code >= 200 && r.code <= 299:
		d.speedUp(l)
	}
	d.mu.Unlock()
	if !d.circuitOn(info) {
		return
	}
	now := d.cfg.Now()
	var pause time.Time
	if throttled && r.retryAfter > 0 {
		pause = now.Add(r.retryAfter)
	}
	failed := circuitFailure(r)
	reason := r.err
	if reason == "" {
		reason = "HTTP " + http.StatusText(r.code)
		if reason == "HTTP " {
			reason = "HTTP status"
		}
	}
	lc := &l.circuit
	lc.mu.Lock()
	defer lc.mu.Unlock()
	c := lc.c.Load()
	if !failed && pause.IsZero() && c != nil && c.State == hookd.CircuitClosed && c.Failures == 0 {
		// The common case, a healthy endpoint answering: nothing to change.
		lc.troubled = now.Before(c.PausedUntil)
		return
	}
	for range 4 {
		if c == nil {
			var err error
			if c, err = d.readCircuit(ctx, lc, dl.AppID, dl.EndpointID); err != nil {
				d.log.Error("read circuit", "endpoint", dl.EndpointID, "err", err)
				return
			}
		}
		next := c.Clone()
		var changed bool
		if failed {
			changed = next.Failed(now, d.policy(), reason)
		} else {
			changed = next.Succeeded(now)
		}
		if !pause.IsZero() && next.Pause(pause) {
			changed = true
		}
		lc.troubled = failed || next.State != hookd.CircuitClosed || next.Failures > 0 || now.Before(next.PausedUntil)
		if !changed {
			return
		}
		ok, err := d.store.SwapCircuit(ctx, next)
		if err != nil {
			if !hookd.IsNotFound(err) {
				d.log.Error("update circuit", "endpoint", dl.EndpointID, "err", err)
			}
			return
		}
		if ok {
			lc.c.Store(next)
			lc.at = time.Now()
			d.transitioned(c, next)
			return
		}
		c = nil // changed by another node meanwhile: read it again
	}
}

// transitioned acts on a circuit change this node stored: it logs and counts the
// transitions and announces an opened or closed circuit as an operational event.
func (d *Dispatcher) transitioned(prev, next *hookd.Circuit) {
	if prev.State == next.State || len(next.Transitions) == 0 {
		return
	}
	t := next.Transitions[len(next.Transitions)-1]
	d.met.circuitTransitions.WithLabelValues(string(t.To)).Inc()
	d.log.Info("endpoint circuit", "app", next.AppID, "endpoint", next.EndpointID, "from", t.From, "to", t.To, "reason", t.Reason)
	var event string
	switch {
	case t.To == hookd.CircuitOpen && t.From == hookd.CircuitClosed:
		event = EventEndpointCircuitOpened
	case t.To == hookd.CircuitClosed:
		event = EventEndpointCircuitClosed
	default:
		return
	}
	data := circuitEventData{
		AppID: next.AppID, EndpointID: next.EndpointID, State: string(next.State),
		Since: next.Since.UTC(), Reason: t.Reason,
	}
	if next.State == hookd.CircuitOpen {
		np := next.NextProbe.UTC()
		data.NextProbeAt = &np
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		data.AppUID = d.appUID(ctx, data.AppID)
		if err := d.Emit(ctx, event, data); err != nil {
			d.log.Error("emit operational event", "type", event, "err", err)
		}
	}()
}

// circuitEventData is the data of the endpoint.circuit.* operational events.
type circuitEventData struct {
	AppID       string     `json:"appId"`
	AppUID      string     `json:"appUid,omitempty"`
	EndpointID  string     `json:"endpointId"`
	State       string     `json:"state"`
	Since       time.Time  `json:"since"`
	NextProbeAt *time.Time `json:"nextProbeAt,omitempty"`
	Reason      string     `json:"reason"`
}

// Adaptive limits (AIMD). A throttling answer halves the lane's concurrency and its
// rate; each success gives back 1/n of a request in flight (n the current limit), and
// as much of a request per second, so both grow by about one per round of requests.
// A limit that grows back to where it started is lifted.

// minAdaptiveRate is the slowest a throttled lane sends, in requests per second.
const minAdaptiveRate = 1.0

// aimdCooldown is how long after a decrease the lane's limits are not decreased
// again: the answers to requests sent before it say nothing of the new limits (as
// TCP decreases once per round trip), and a receiver that answers some share of
// requests 503 whatever the pace must not drive the lane to its floor at once.
const aimdCooldown = time.Second

// slowDown halves the lane's adaptive limits after a throttling answer that took
// took; d.mu is held.
func (d *Dispatcher) slowDown(l *lane, took time.Duration) {
	now := time.Now()
	if now.Sub(l.decreased) < aimdCooldown {
		return
	}
	l.decreased = now
	cur := d.laneConcurrency(l)
	l.aimdConc = max(1, float64(cur)/2)
	rate := l.rate
	if rate == 0 {
		// No limit yet: start from the pace the lane has shown, or could have with
		// its requests in flight answered as fast as this one.
		rate = float64(cur) / max(took.Seconds(), 0.001)
		if el := time.Since(l.since).Seconds(); l.done > 0 && el > 0 {
			rate = max(rate, float64(l.done)/el)
		}
		l.adaptCeil = 2 * rate
	} else if l.adaptRate == 0 {
		l.adaptCeil = l.cfgRate
		if l.adaptCeil == 0 {
			l.adaptCeil = 2 * rate
		}
	}
	l.adaptRate = max(minAdaptiveRate, rate/2)
	l.applyRate()
}

// speedUp grows the lane's adaptive limits after a success; d.mu is held.
func (d *Dispatcher) speedUp(l *lane) {
	if l.aimdConc > 0 {
		l.aimdConc += 1 / l.aimdConc
		if int(l.aimdConc) >= d.laneCap(l) {
			l.aimdConc = 0
		}
	}
	if l.adaptRate > 0 {
		l.adaptRate += 1 / l.adaptRate
		if l.adaptRate >= l.adaptCeil {
			l.adaptRate, l.adaptCeil = 0, 0
		}
		l.applyRate()
	}
}

// appLimit is this node's share of an application's rateLimit (its throttleRate),
// which holds across all the application's endpoints.
type appLimit struct {
	rate float64
	lim  *rate.Limiter
	used time.Time
}

// appLimiter returns the limiter of the application's rate limit, shared evenly
// among the nodes, or nil if it has none.
func (d *Dispatcher) appLimiter(appID string) *rate.Limiter {
	ctx, cancel := context.WithTimeout(d.runCtx, 10*time.Second)
	defer cancel()
	app, err := d.apps.get(appID, d.cfg.Now(), func() (*hookd.Application, error) { return d.store.App(ctx, appID) })
	d.mu.Lock()
	defer d.mu.Unlock()
	al := d.appLims[appID]
	if err != nil || app.RateLimit <= 0 {
		if al != nil {
			delete(d.appLims, appID)
		}
		return nil
	}
	share := float64(app.RateLimit) / float64(max(d.nodes.Load(), 1))
	now := time.Now()
	if al == nil {
		if len(d.appLims) >= 1024 {
			for id, a := range d.appLims {
				if now.Sub(a.used) > time.Minute {
					delete(d.appLims, id)
				}
			}
		}
		al = &appLimit{rate: share, lim: rate.NewLimiter(rate.Limit(share), 1)}
		d.appLims[appID] = al
	} else if al.rate != share {
		al.rate = share
		al.lim.SetLimit(rate.Limit(share))
	}
	al.used = now
	return al.lim
}

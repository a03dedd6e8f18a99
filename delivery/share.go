package delivery

import (
	"slices"
	"time"
)

// Workers are shared so that no set of bad endpoints can take them all:
//
//   - Fair shares. With n applications busy (sending or waiting to send), each one's
//     share of Workers is Workers/(n+1), and each of its busy endpoints' share is an
//     equal part of that; the +1 keeps room for a newcomer. A lane within its share
//     (and its application's) may always take a free worker; one beyond it only while
//     more than a reserve of workers is free. So idle workers are never wasted, and
//     the reserve is left for endpoints that are within their share.
//   - Proof before concurrency. A lane has at most unprovenRequests requests in flight
//     until one is answered quickly, so endpoints that hang from the start take few
//     workers before they are known to be slow.
//   - A cap on slow endpoints. A lane is slow while one of its requests has been in
//     flight for longer than slowRequest, and for slowFor after one took that long.
//     Requests started while slow hold at most a quarter of Workers together, and a
//     slow lane holds few deliveries (slowCapacity), so dead endpoints neither take
//     the workers nor fill the dispatcher's memory budget.
//
// A healthy endpoint's latency thus does not depend on how many endpoints hang. An
// endpoint whose circuit is open (circuit.go) sends nothing at all: its deliveries
// wait in the store until its probe.

// slowRequest is how long a request may take before its lane counts as slow.
const slowRequest = time.Second

// unprovenRequests is how many requests a lane may have in flight until one of them
// is answered within slowRequest (and again slowFor after the last such answer): an
// endpoint that hangs from the start holds no more workers than this.
const unprovenRequests = 2

// slowFor is how long a lane stays slow after a request that took slowRequest or
// longer, unless one of its requests is answered quickly meanwhile.
const slowFor = 30 * time.Second

// appShare is one application's workers, guarded by Dispatcher.mu.
type appShare struct {
	running int // requests in flight
	lanes   int // busy lanes (running or waiting)
}

// shareState is what mayStart needs, guarded by Dispatcher.mu.
type shareState struct {
	running     int // requests in flight in all
	slowRunning int // of those, the ones started while their lane was slow
	apps        map[string]*appShare
	freed       chan struct{} // closed and replaced whenever a worker is released
}

// reqStart is a request in flight on a lane.
type reqStart struct {
	at   time.Time
	slow bool // started while the lane was slow: counted in slowRunning
}

// slow reports whether the lane counts as slow at now; d.mu is held.
func (l *lane) slow(now time.Time) bool {
	return now.Before(l.slowUntil) || len(l.starts) > 0 && now.Sub(l.starts[0].at) >= slowRequest
}

// busyChange counts the lane busy or idle in its application when its running and
// waiting requests go from or to zero; d.mu is held.
func (d *Dispatcher) busyChange(l *lane, before int) {
	after := len(l.starts) + l.waiting
	if (before == 0) == (after == 0) {
		return
	}
	sh := &d.share
	a := sh.apps[l.app]
	if a == nil {
		a = &appShare{}
		sh.apps[l.app] = a
	}
	if after > 0 {
		a.lanes++
		return
	}
	a.lanes--
	if a.lanes == 0 && a.running == 0 {
		delete(sh.apps, l.app)
	}
}

// mayStart reports whether the lane may start a request now; d.mu is held.
func (d *Dispatcher) mayStart(l *lane, now time.Time) bool {
	sh := &d.share
	workers := d.cfg.Workers
	free := workers - sh.running
	if free <= 0 {
		return false
	}
	if len(l.starts) >= d.laneConcurrency(l) {
		return false // the endpoint's cap, or its adaptive limit after throttling
	}
	slow := l.slow(now)
	if slow && (sh.slowRunning >= max(1, workers/4) || len(l.starts) >= slowCapacity(d.cfg.EndpointConcurrency)) {
		return false
	}
	if !now.Before(l.provenUntil) && len(l.starts) >= unprovenRequests {
		return false // not answered quickly of late: a few requests until it is
	}
	a := sh.apps[l.app]
	appShare := max(1, workers/(len(sh.apps)+1))
	laneShare := max(1, appShare/max(a.lanes, 1))
	reserve := max(1, appShare/2)
	if (len(l.starts) >= laneShare || a.running >= appShare || slow) && free <= reserve {
		return false
	}
	return true
}

// startResult is how startRequest ended.
type startResult int

const (
	started     startResult = iota
	stopped                 // the dispatcher is stopping
	refusedSlow             // the lane is slow and has used its share: give the delivery back
)

// startRequest waits until the lane may start a request and counts it started. A
// slow lane does not wait (its workers would hold deliveries for a dead endpoint):
// it is refused, and its delivery goes back to the store. The start time is the key
// finishRequest takes.
func (d *Dispatcher) startRequest(l *lane) (time.Time, startResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	before := len(l.starts) + l.waiting
	l.waiting++
	d.busyChange(l, before)
	defer func() {
		before := len(l.starts) + l.waiting
		l.waiting--
		d.busyChange(l, before)
	}()
	recheck := time.NewTimer(time.Hour)
	defer recheck.Stop()
	for {
		now := time.Now()
		if d.mayStart(l, now) {
			rs := reqStart{at: now, slow: l.slow(now)}
			if rs.slow {
				d.share.slowRunning++
			}
			l.starts = append(l.starts, rs)
			d.share.running++
			d.share.apps[l.app].running++
			return now, started
		}
		if l.slow(now) {
			return time.Time{}, refusedSlow
		}
		freed := d.share.freed
		d.mu.Unlock()
		// A lane becomes slow with time, without a request finishing: look again.
		recheck.Reset(slowRequest / 4)
		select {
		case <-freed:
		case <-recheck.C:
		case <-d.runCtx.Done():
			d.mu.Lock()
			return time.Time{}, stopped
		}
		d.mu.Lock()
	}
}

// finishRequest counts the request started at start finished, notes whether the lane
// is slow (unless the request was never sent: sent false), and wakes the lanes
// waiting for a worker.
func (d *Dispatcher) finishRequest(l *lane, start time.Time, sent bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	before := len(l.starts) + l.waiting
	if i := slices.IndexFunc(l.starts, func(rs reqStart) bool { return rs.at.Equal(start) }); i >= 0 {
		if l.starts[i].slow {
			d.share.slowRunning--
		}
		l.starts = slices.Delete(l.starts, i, i+1)
	}
	if !sent {
		// Neither slow nor quick: nothing was asked of the endpoint.
	} else if now.Sub(start) >= slowRequest {
		l.slowUntil = now.Add(slowFor)
	} else {
		l.slowUntil = time.Time{}
		l.provenUntil = now.Add(slowFor)
	}
	d.share.running--
	a := d.share.apps[l.app]
	a.running--
	d.busyChange(l, before)
	close(d.share.freed)
	d.share.freed = make(chan struct{})
}

// slowCapacity is how many deliveries a slow lane holds, in flight and queued: more
// are given back to the store, so dead endpoints cannot fill the memory budget.
func slowCapacity(endpointConcurrency int) int {
	return max(unprovenRequests, endpointConcurrency/4)
}

package delivery

import (
	"context"
	"time"

	"github.com/hookd/hookd"
	"golang.org/x/time/rate"
)

// laneIdle is how long a lane's worker waits for more work before it ends. Workers
// that outlive a short gap are cheaper than new ones: a new goroutine grows its
// stack again through the HTTP client, and sets up its request context again.
const laneIdle = 250 * time.Millisecond

// lane is one endpoint's queue. Its fields are guarded by Dispatcher.mu.
type lane struct {
	id     string
	queue  []*hookd.Delivery
	active int // goroutines working the lane (each holds one delivery at a time), idle ones included
	// idle workers wait for a token on ready; enqueue sends one per delivery it
	// queues while there are idle workers, and counts that worker busy again.
	idle  int
	ready chan struct{}
	rate  float64 // the lane's deliveries per second (cfgRate or adaptRate), 0 for no limit
	lim   *rate.Limiter
	// cfgRate is this node's share of the endpoint's rateLimit, 0 for none.
	cfgRate float64
	// maxConc is the endpoint's maxConcurrency, for all nodes together (0: none).
	maxConc int
	// Adaptive limits after throttling answers (see circuit.go), 0 when lifted:
	// requests in flight, requests per second, and the rate at which the latter is
	// lifted.
	aimdConc, adaptRate, adaptCeil float64
	decreased                      time.Time // the last decrease (wall clock)
	// circuit is the endpoint's circuit as this node last saw it.
	circuit laneCircuit
	used    time.Time
	// done deliveries were worked on since since: the lane's observed pace.
	done  int
	since time.Time

	// Its part in sharing the workers (see share.go).
	app       string
	starts    []reqStart // requests in flight, oldest first
	waiting   int        // workers waiting to start a request
	slowUntil time.Time
	// provenUntil is when the lane's last quick answer stops counting.
	provenUntil time.Time
}

// busy is how many deliveries the lane holds: queued, or in its workers' hands.
func (l *lane) busy() int {
	return len(l.queue) + l.active - l.idle
}

// drain empties the lane's queue and returns what it held.
func (l *lane) drain() []*hookd.Delivery {
	q := l.queue
	l.queue = nil
	return q
}

// setRate applies the endpoint's rate limit, shared evenly among the nodes that
// deliver; d.mu is held. The limiter has a burst of one, so requests are spaced
// evenly.
func (l *lane) setRate(perSecond, nodes int) {
	share := 0.0
	if perSecond > 0 {
		share = float64(perSecond) / float64(max(nodes, 1))
	}
	if share == l.cfgRate {
		return
	}
	l.cfgRate = share
	l.applyRate()
}

// applyRate sets the limiter to the lower of the configured and the adaptive rate;
// d.mu is held.
func (l *lane) applyRate() {
	r := l.cfgRate
	if l.adaptRate > 0 && (r == 0 || l.adaptRate < r) {
		r = l.adaptRate
	}
	if r == l.rate {
		return
	}
	l.rate = r
	if r == 0 {
		l.lim = nil
		return
	}
	if l.lim == nil {
		l.lim = rate.NewLimiter(rate.Limit(r), 1)
		return
	}
	l.lim.SetLimit(rate.Limit(r))
}

// concurrency is how many requests this node may have in flight to one endpoint:
// its share of EndpointConcurrency, which caps the requests of all nodes together.
func (d *Dispatcher) concurrency() int {
	n := int(d.nodes.Load())
	return max(1, (d.cfg.EndpointConcurrency+n-1)/max(n, 1))
}

// laneCap is how many requests this node may have in flight to the lane's endpoint:
// its share of EndpointConcurrency and of the endpoint's maxConcurrency; d.mu is held.
func (d *Dispatcher) laneCap(l *lane) int {
	c := d.concurrency()
	if l.maxConc > 0 {
		n := int(d.nodes.Load())
		c = min(c, max(1, (l.maxConc+n-1)/max(n, 1)))
	}
	return c
}

// laneConcurrency is laneCap lowered by the lane's adaptive limit; d.mu is held.
func (d *Dispatcher) laneConcurrency(l *lane) int {
	c := d.laneCap(l)
	if l.aimdConc > 0 {
		c = min(c, max(1, int(l.aimdConc)))
	}
	return c
}

// laneWorkers is how many workers the lane may have: its share of the endpoint's
// concurrency, and no more than it may have requests in flight while slow or not yet
// answered quickly (see share.go); d.mu is held.
func (d *Dispatcher) laneWorkers(l *lane) int {
	n := d.laneConcurrency(l)
	now := time.Now()
	if l.slow(now) {
		n = min(n, slowCapacity(d.cfg.EndpointConcurrency))
	} else if !now.Before(l.provenUntil) {
		n = min(n, unprovenRequests)
	}
	return n
}

// capacity is how many deliveries the lane may hold, in flight and queued. A
// rate-limited lane holds no more than it can send within half a lease.
func (d *Dispatcher) capacity(l *lane) int {
	c := d.cfg.EndpointConcurrency + d.cfg.EndpointQueue
	if now := time.Now(); l.slow(now) || !now.Before(l.provenUntil) {
		// Slow, or not yet answered quickly: hold few (see share.go).
		c = min(c, slowCapacity(d.cfg.EndpointConcurrency))
	}
	if l.rate > 0 {
		c = min(c, max(1, int(d.lease().Seconds()/2*l.rate)))
	}
	return c
}

// enqueue puts a claimed delivery in its endpoint's lane, starting a worker for the
// lane when it has fewer than EndpointConcurrency. It returns false when the lane is
// full or the dispatcher is stopping.
func (d *Dispatcher) enqueue(dl *hookd.Delivery) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return false
	}
	l := d.lanes[dl.EndpointID]
	if l == nil {
		l = &lane{id: dl.EndpointID, app: dl.AppID, ready: make(chan struct{}, d.cfg.EndpointConcurrency)}
		d.lanes[dl.EndpointID] = l
		if len(d.lanes)%1024 == 0 {
			d.sweepLanes()
		}
	}
	if l.busy() >= d.capacity(l) {
		return false
	}
	l.queue = append(l.queue, dl)
	l.used = time.Now()
	if l.since.IsZero() || l.used.Sub(l.since) > 30*time.Second {
		l.since, l.done = l.used, 0 // a fresh window keeps the pace current
	}
	switch {
	case l.idle > 0:
		l.idle--
		l.ready <- struct{}{} // never blocks: there are fewer tokens than workers
	case l.active < d.laneWorkers(l):
		l.active++
		d.lanesWG.Add(1)
		go d.work(l)
	}
	return true
}

// sweepLanes forgets lanes idle for a minute; d.mu is held. Lanes are kept a while so
// a rate-limited endpoint's bucket outlives a short pause.
func (d *Dispatcher) sweepLanes() {
	cutoff := time.Now().Add(-time.Minute)
	for id, l := range d.lanes {
		if l.active == 0 && len(l.queue) == 0 && l.used.Before(cutoff) {
			delete(d.lanes, id)
		}
	}
}

// next pops the lane's next delivery. When there is none it waits up to laneIdle for
// one, and otherwise (or when the dispatcher stops, or the lane has more workers than
// its share of the concurrency since more nodes joined) ends the worker.
func (d *Dispatcher) next(l *lane, idle *time.Timer) (*hookd.Delivery, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for !d.stopping && l.active-l.idle <= d.laneConcurrency(l) {
		if len(l.queue) > 0 {
			dl := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			if len(l.queue) == 0 {
				l.queue = nil // let the backing array go
			}
			return dl, true
		}
		l.idle++
		d.mu.Unlock()
		idle.Reset(laneIdle)
		woken := false
		select {
		case <-l.ready:
			woken = true
		case <-idle.C:
		case <-d.runCtx.Done():
		}
		idle.Stop()
		d.mu.Lock()
		if woken {
			continue // enqueue counted this worker busy again
		}
		select {
		case <-l.ready:
			continue // woken while the timer fired: there is work
		default:
		}
		l.idle--
		break
	}
	l.active--
	return nil, false
}

// work delivers the lane's queue, one delivery at a time.
func (d *Dispatcher) work(l *lane) {
	defer d.lanesWG.Done()
	idle := time.NewTimer(laneIdle)
	idle.Stop()
	for {
		dl, ok := d.next(l, idle)
		if !ok {
			return
		}
		d.process(d.sendCtx, l, dl)
		d.mu.Lock()
		l.done++
		d.mu.Unlock()
	}
}

// process makes one attempt of dl, or gives it back, and hands the outcome to the
// recorder.
func (d *Dispatcher) process(ctx context.Context, l *lane, dl *hookd.Delivery) {
	info, err := d.endpoint(d.runCtx, dl.AppID, dl.EndpointID)
	switch {
	case hookd.IsNotFound(err):
		d.results <- d.refuse(dl, "", "endpoint no longer exists")
		return
	case err != nil:
		until := d.cfg.Now()
		if d.runCtx.Err() == nil { // shutting down is no reason to wait
			d.log.Error("read endpoint", "endpoint", dl.EndpointID, "err", err)
			until = until.Add(5 * time.Second)
		}
		d.results <- item{back: dl, until: until}
		return
	case info.ep.Disabled:
		d.results <- d.refuse(dl, info.ep.URL, "endpoint is disabled; not sent")
		return
	}

	appLim := d.appLimiter(dl.AppID)
	d.mu.Lock()
	l.setRate(info.ep.RateLimit, int(d.nodes.Load()))
	l.maxConc = info.ep.MaxConcurrency
	lim := l.lim
	d.mu.Unlock()
	for _, lim := range []*rate.Limiter{lim, appLim} {
		if lim == nil {
			continue
		}
		if err := lim.Wait(d.runCtx); err != nil {
			d.results <- item{back: dl, until: d.cfg.Now()}
			return
		}
	}
	start, res := d.startRequest(l)
	switch res {
	case stopped:
		d.results <- item{back: dl, until: d.cfg.Now()}
		return
	case refusedSlow:
		d.results <- item{back: dl, until: d.cfg.Now().Add(d.saturatedDelay([]*hookd.Delivery{dl}))}
		return
	}
	if d.cfg.Now().Add(info.timeout + time.Second).After(dl.NextAttempt) {
		// The lease would run out during the request: give it back to be claimed
		// again with a fresh lease (long enough, now that info.timeout is known).
		d.finishRequest(l, start, false)
		d.results <- item{back: dl, until: d.cfg.Now()}
		return
	}
	// Asked last, right before sending, so that a circuit opened or a pause set by
	// the request that held this one's place is seen.
	if ok, until := d.gate(d.runCtx, l, info, dl); !ok {
		d.finishRequest(l, start, false)
		d.results <- item{back: dl, until: until}
		return
	}
	d.inFlight.Add(1)
	r := d.send(ctx, info, dl)
	d.inFlight.Add(-1)
	if ctx.Err() == nil {
		d.noteOutcome(d.sendCtx, l, info, dl, r)
	}
	d.finishRequest(l, start, true)
	d.results <- d.decide(dl, info, r)
}

// refuse fails dl without a request, with why in the attempt log.
func (d *Dispatcher) refuse(dl *hookd.Delivery, url, why string) item {
	now := d.cfg.Now()
	return item{
		prev: dl.Attempts,
		res: &hookd.AttemptResult{
			Delivery: dl,
			Attempt: &hookd.Attempt{
				ID: d.cfg.IDs.New(hookd.PrefixAttempt), AppID: dl.AppID, MsgID: dl.MsgID,
				EndpointID: dl.EndpointID, URL: url, Status: hookd.StatusFail,
				Trigger: dl.Trigger, Error: why, Timestamp: now,
			},
			Status:      hookd.StatusFail,
			NextAttempt: now,
			Attempts:    dl.Attempts,
		},
	}
}

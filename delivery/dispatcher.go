// Package delivery is hookd's dispatcher: it claims due deliveries from the store with
// leases, sends each to its endpoint signed (Standard Webhooks by default) through an
// SSRF-guarded HTTP client, records the attempts in batches and schedules retries.
//
// How it works:
//
//   - A claimer leases up to BatchSize due deliveries at a time (never holding a
//     database transaction across HTTP), wakes at once when the store signals new
//     work, and otherwise sleeps until the next delivery falls due (at most Poll).
//   - Each endpoint has its own lane: a queue of at most EndpointQueue deliveries,
//     at most EndpointConcurrency requests in flight and a token bucket for its
//     rateLimit. A delivery claimed for a full lane is given back to the store for
//     SaturatedDelay, so a slow or dead endpoint never holds up the others.
//   - Workers+QueueSize bounds the deliveries held in memory whatever the backlog.
//   - A recorder commits attempt results together every FlushInterval or BatchSize
//     results. A result whose lease was lost in the meantime only adds to the log:
//     delivery is at least once.
//
// Outcomes: a 2xx response within the timeout is a success; anything else (3xx
// included, redirects are never followed), a timeout or a connection error is a
// failure retried on the resolved retry schedule. On 429 and 503 a Retry-After
// header (seconds or HTTP date) replaces the next delay, clamped to [1 s, 1 h]. A
// response carrying "Webhook-Abort-Retries: true" fails the delivery at once, with
// no further retries. 410 Gone fails the delivery and disables the endpoint. A
// manual attempt (resend, recover) is one attempt: on failure the delivery fails
// without a schedule.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd"
)

// Dispatcher delivers messages to endpoints. Create it with New and start it with Run.
type Dispatcher struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	rand   func() float64
	client *client // SSRF-guarded, for customer endpoints
	trust  *client // unguarded, for the operator's operational endpoint
	met    *metrics

	endpoints  *cache[*endpointInfo]
	apps       *cache[*hookd.Application]
	eventTypes *cache[*hookd.EventType]
	maxTimeout atomic.Int64 // longest request timeout seen, for the lease

	maxHeld   int64
	held      atomic.Int64 // deliveries claimed and not yet recorded or given back
	heldBytes atomic.Int64
	completed atomic.Int64
	inFlight  atomic.Int64
	capSig    chan struct{} // a held delivery was released
	nudge     chan struct{}
	results   chan item

	mu       sync.Mutex
	share    shareState
	lanes    map[string]*lane
	appLims  map[string]*appLimit // by application ID
	stopping bool
	lanesWG  sync.WaitGroup
	runCtx   context.Context // done when Run's context is
	sendCtx  context.Context // cancelled once the shutdown grace is over

	// tokens are the endpoints' OAuth access tokens.
	tokens tokens

	opsMu sync.Mutex
	// certWarned are the client certificates endpoint.mtls.expiring was sent for, by
	// endpoint and expiry; guarded by opsMu.
	certWarned map[string]bool
	ops        *opsTarget

	running atomic.Bool
	health  map[string]healthState // by app/endpoint ID (recorder only)

	nodeID string       // this dispatcher's name in the store's node list
	nodes  atomic.Int64 // live nodes sharing the store, this one included

	dueMu    sync.Mutex
	dueTimer *time.Timer // nudges the claimer when the earliest retry set here falls due
	dueNext  time.Time   // when dueTimer fires; zero when it is not set
}

// item is what a lane hands the recorder: an attempt to record, or a delivery to give
// back unattempted.
type item struct {
	res   *hookd.AttemptResult
	info  *endpointInfo
	gone  bool // the endpoint answered 410 Gone
	prev  int  // the delivery's attempt count before this attempt
	back  *hookd.Delivery
	until time.Time
}

// New returns a Dispatcher for cfg, with zero fields set to their defaults.
func New(cfg Config) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("delivery config: %w", err)
	}
	d := &Dispatcher{
		cfg:        cfg,
		store:      cfg.Store,
		log:        cfg.Logger,
		rand:       cfg.RandFunc,
		endpoints:  newCache[*endpointInfo](cfg.CacheTTL),
		apps:       newCache[*hookd.Application](cfg.CacheTTL),
		eventTypes: newCache[*hookd.EventType](cfg.CacheTTL),
		maxHeld:    int64(cfg.Workers + cfg.QueueSize),
		capSig:     make(chan struct{}, 1),
		nudge:      make(chan struct{}, 1),
		share:      shareState{apps: make(map[string]*appShare), freed: make(chan struct{})},
		lanes:      make(map[string]*lane),
		appLims:    make(map[string]*appLimit),
		health:     make(map[string]healthState),
	}
	if d.rand == nil {
		d.rand = rand.Float64
	}
	d.nodeID = cfg.IDs.New(nodePrefix)
	d.nodes.Store(1)
	d.maxTimeout.Store(int64(cfg.RequestTimeout))
	d.client = newClient(cfg, Guard{AllowPrivate: cfg.AllowPrivate, Allow: cfg.AllowCIDRs})
	d.trust = newClient(cfg, Guard{AllowPrivate: true})
	m, err := newMetrics(d, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	d.met = m
	return d, nil
}

// Nudge makes the dispatcher look for due work at once, as a wake-up from the store
// does. Tests call it after moving an injected clock.
func (d *Dispatcher) Nudge() {
	select {
	case d.nudge <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done. It then stops claiming, gives queued deliveries
// back to the store, lets requests in flight finish for up to ShutdownTimeout,
// records their attempts and returns. A Dispatcher runs once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("delivery: dispatcher already ran")
	}
	if d.cfg.OperationalWebhookURL != "" {
		if _, err := d.operational(ctx); err != nil {
			d.log.Error("set up operational webhooks; will retry on the first event", "err", err)
		}
	}
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	d.mu.Lock()
	d.runCtx, d.sendCtx = ctx, sendCtx
	d.results = make(chan item, d.maxHeld+int64(d.cfg.BatchSize))
	d.mu.Unlock()

	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.recordLoop()
	}()
	d.heartbeat(ctx) // know the nodes before the first delivery
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		d.heartbeatLoop(ctx)
	}()
	defer func() {
		<-beating
		// Leave the node list, so the other nodes take up this one's share of the
		// endpoints' limits at their next heartbeat.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.store.RemoveNode(ctx, d.nodeID); err != nil {
			d.log.Error("leave the node list", "err", err)
		}
	}()

	d.claimLoop(ctx)

	d.stop()
	lanesDone := make(chan struct{})
	go func() {
		d.lanesWG.Wait()
		close(lanesDone)
	}()
	grace := time.NewTimer(d.cfg.ShutdownTimeout)
	select {
	case <-lanesDone:
	case <-grace.C:
		d.log.Warn("delivery: shutdown grace period over; cancelling requests in flight")
		cancelSend()
		d.client.closeAll()
		d.trust.closeAll()
		<-lanesDone
	}
	grace.Stop()
	close(d.results)
	<-recorded
	d.dueMu.Lock()
	if d.dueTimer != nil {
		d.dueTimer.Stop()
	}
	d.dueMu.Unlock()
	return nil
}

// stop makes the lanes take no more work and gives their queues back to the store.
func (d *Dispatcher) stop() {
	d.mu.Lock()
	d.stopping = true
	var back []*hookd.Delivery
	for _, l := range d.lanes {
		back = append(back, l.drain()...)
	}
	d.mu.Unlock()
	if len(back) > 0 {
		d.postpone(back, d.cfg.Now())
	}
}

// nodePrefix starts the names dispatchers give themselves in the store's node list.
const nodePrefix = "node_"

// Nodes returns how many live nodes share the store, this one included, as of the
// last heartbeat.
func (d *Dispatcher) Nodes() int {
	return int(d.nodes.Load())
}

// heartbeatLoop tells the store this node is alive every Heartbeat until ctx is done.
func (d *Dispatcher) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.heartbeat(ctx)
		}
	}
}

// heartbeat records this node as alive and keeps the count of live nodes, by which
// endpoints' rate limits and concurrency caps are divided. On an error the last
// count stands.
func (d *Dispatcher) heartbeat(ctx context.Context) {
	n, err := d.store.Heartbeat(ctx, d.nodeID, d.cfg.Now(), 3*d.cfg.Heartbeat)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("heartbeat", "err", err)
		}
		return
	}
	if prev := d.nodes.Swap(int64(max(n, 1))); prev != int64(n) {
		d.log.Info("nodes sharing the store", "nodes", n)
	}
}

// lease returns the lease of a claim: long enough for the longest request timeout
// the dispatcher has seen, with a margin for the queue.
func (d *Dispatcher) lease() time.Duration {
	return max(d.cfg.Lease, 2*time.Duration(d.maxTimeout.Load()))
}

// claimLoop claims due deliveries and hands them to their lanes until ctx is done.
func (d *Dispatcher) claimLoop(ctx context.Context) {
	batch := int64(d.cfg.BatchSize)
	wake := d.store.Wake()
	saturated := false
	var lastCompleted int64
	for ctx.Err() == nil {
		n := min(batch, d.maxHeld-d.held.Load())
		if saturated {
			// A lane was full: claim about as many as were completed since, so the
			// claims follow the busy endpoint's pace instead of churning its backlog.
			n = min(n, max(d.completed.Load()-lastCompleted, batch/8+1))
		}
		if n <= 0 || d.heldBytes.Load() >= d.cfg.MaxHeldBytes {
			d.wait(ctx, wake, true, d.cfg.Poll)
			continue
		}
		lastCompleted = d.completed.Load()
		now := d.cfg.Now()
		ds, err := d.store.ClaimDeliveries(ctx, now, d.lease(), int(n))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Error("claim deliveries", "err", err)
			d.wait(ctx, nil, false, min(d.cfg.Poll, time.Second))
			continue
		}
		back, waited := d.admit(ds, now)
		if waited {
			select {
			case <-wake: // our own postponement's signal: nothing new
			default:
			}
		}
		saturated = len(back) > 0
		if saturated {
			d.postpone(back, now.Add(d.saturatedDelay(back)))
			d.release(back, false)
			select {
			case <-wake: // our own postponement's signal: nothing new
			default:
			}
			d.wait(ctx, wake, true, d.cfg.SaturatedDelay)
			continue
		}
		if int64(len(ds)) == n {
			continue // there may be more due right now
		}
		d.wait(ctx, wake, false, d.untilDue(ctx, len(ds) == 0))
	}
}

// admit takes claimed deliveries into the dispatcher's hold and their lanes. It gives
// those whose endpoint's circuit is open, half-open or paused back to the store until
// they may be sent, without a place in a lane, and of those to a circuit due for its
// probe all but the first (the probe) for the backoff (waited says whether there were
// any); it returns those whose lane is full, still held.
func (d *Dispatcher) admit(ds []*hookd.Delivery, now time.Time) (back []*hookd.Delivery, waited bool) {
	var size int64
	for _, dl := range ds {
		size += payloadSize(dl)
	}
	d.held.Add(int64(len(ds)))
	d.heldBytes.Add(size)
	d.met.startedClaim.Add(float64(len(ds)))

	waiting := make(map[time.Time][]*hookd.Delivery)
	probing := make(map[string]bool)
	for _, dl := range ds {
		until, ok := d.circuitWait(dl, now)
		if !ok {
			until, ok = d.probeWait(dl, now, probing)
		}
		if ok {
			// Its endpoint's circuit is open, half-open or paused, or another delivery
			// goes first as its probe: back to the store until it may be sent,
			// without taking a place in a lane.
			waiting[until] = append(waiting[until], dl)
			continue
		}
		if !d.enqueue(dl) {
			back = append(back, dl)
		}
	}
	for until, w := range waiting {
		d.postpone(w, until)
		d.release(w, true)
	}
	return back, len(waiting) > 0
}

// untilDue returns how long the claimer may sleep before the next delivery is due.
func (d *Dispatcher) untilDue(ctx context.Context, idle bool) time.Duration {
	next, ok, err := d.store.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("next due delivery", "err", err)
		}
		return min(d.cfg.Poll, time.Second)
	}
	if !ok {
		return d.cfg.Poll
	}
	wait := min(next.Sub(d.cfg.Now()), d.cfg.Poll)
	if idle {
		// Nothing was claimable a moment ago: never spin.
		wait = max(wait, 5*time.Millisecond)
	}
	return max(wait, 0)
}

// wait sleeps for up to timeout, or until the store or a test signals new work, or
// (with capacity) a held delivery is released, or ctx is done.
func (d *Dispatcher) wait(ctx context.Context, wake <-chan struct{}, capacity bool, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	var capSig chan struct{}
	if capacity {
		capSig = d.capSig
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-d.nudge:
	case <-capSig:
	case <-t.C:
	}
}

// maxSaturatedDelay caps how long a delivery for a full lane is put back.
const maxSaturatedDelay = 5 * time.Minute

// saturatedDelay is how long deliveries for full lanes are put back: about the time
// the busiest of those lanes needs to work through its queue at the pace it has
// shown (or its rate limit), at least SaturatedDelay. A dead endpoint's backlog is
// thus pushed out of the claims' way instead of being claimed over and over.
func (d *Dispatcher) saturatedDelay(back []*hookd.Delivery) time.Duration {
	delay := d.cfg.SaturatedDelay
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dl := range back {
		l := d.lanes[dl.EndpointID]
		if l == nil {
			continue
		}
		held := time.Duration(l.busy())
		if l.rate > 0 {
			delay = max(delay, time.Duration(float64(held*time.Second)/l.rate))
		}
		if elapsed := now.Sub(l.since); l.done > 0 && elapsed > 0 {
			delay = max(delay, held*elapsed/time.Duration(l.done))
		} else if !l.since.IsZero() && elapsed > d.cfg.SaturatedDelay {
			// Nothing finished yet: assume each request takes as long as it has so far.
			delay = max(delay, held*elapsed/time.Duration(d.cfg.EndpointConcurrency))
		}
	}
	return min(delay, maxSaturatedDelay)
}

// dueAt makes the claimer look for work at t, a time this node just set a delivery
// due at (a retry, a Retry-After, a postponement), so that short delays are kept on
// time instead of waiting for the claimer's next poll.
func (d *Dispatcher) dueAt(t time.Time) {
	now := d.cfg.Now()
	d.dueMu.Lock()
	defer d.dueMu.Unlock()
	if !d.dueNext.IsZero() && d.dueNext.After(now) && !t.Before(d.dueNext) {
		return // the timer fires earlier anyway
	}
	d.dueNext = t
	wait := max(t.Sub(now), 0)
	if d.dueTimer == nil {
		d.dueTimer = time.AfterFunc(wait, d.Nudge)
		return
	}
	d.dueTimer.Reset(wait)
}

// postpone gives deliveries back to the store, due at until.
func (d *Dispatcher) postpone(ds []*hookd.Delivery, until time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.store.PostponeDeliveries(ctx, ds, until); err != nil {
		// Their leases expire by themselves: nothing is lost, only delayed.
		d.log.Error("give back deliveries", "count", len(ds), "err", err)
	} else {
		d.dueAt(until)
	}
	d.met.deliveries.WithLabelValues("postponed").Add(float64(len(ds)))
}

// release forgets deliveries the dispatcher held; done says they were worked on
// (attempted or given back by a lane), which signals the claimer that lanes have
// room.
func (d *Dispatcher) release(ds []*hookd.Delivery, done bool) {
	var size int64
	for _, dl := range ds {
		size += payloadSize(dl)
	}
	d.held.Add(-int64(len(ds)))
	d.heldBytes.Add(-size)
	if !done {
		return
	}
	d.completed.Add(int64(len(ds)))
	select {
	case d.capSig <- struct{}{}:
	default:
	}
}

func payloadSize(dl *hookd.Delivery) int64 {
	if dl.Message == nil {
		return 0
	}
	return int64(len(dl.Message.Payload))
}

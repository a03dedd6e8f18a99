package delivery

import (
	"time"

	"github.com/hookd/hookd"
)

// Take picks, among ds (the new deliveries of msg, not stored yet), those this
// dispatcher has room for, and marks them leased to it: status sending, due again when
// the lease expires, lease number 0 (which no claim hands out). The caller stores ds
// and then passes what Take returned to Deliver if the store accepted them, or to
// Abandon if not.
//
// Deliveries taken this way skip the claim: no query finds them, no write leases them,
// and they start at once. If the node dies before recording them, their lease expires
// and any node claims them as usual. Take returns nothing while the dispatcher is not
// running or holds as much as it may, and leaves out deliveries for a full lane and
// ordered ones (FIFO endpoints): those are stored pending and claimed later. A
// delivery whose endpoint's circuit, as its lane last read it, keeps it waiting (open
// before its probe, half-open with the probe in flight, paused) is left out too, with
// NextAttempt set to the end of the wait: it is stored due then, and neither a lane
// nor a claim handles it before.
func (d *Dispatcher) Take(msg *hookd.Message, ds []*hookd.Delivery) []*hookd.Delivery {
	if len(ds) == 0 || !d.running.Load() {
		return nil
	}
	size := int64(len(msg.Payload))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.results == nil || d.stopping {
		return nil // not started yet, or stopping
	}
	room := d.maxHeld - d.held.Load()
	if room <= 0 || d.heldBytes.Load() >= d.cfg.MaxHeldBytes {
		return nil
	}
	now := d.cfg.Now()
	until := now.Add(d.lease())
	var taken []*hookd.Delivery
	var waits []time.Time
	defer func() {
		for _, t := range waits {
			d.dueAt(t)
		}
	}()
	for _, dl := range ds {
		if int64(len(taken)) == room {
			break
		}
		if dl.Ordered {
			continue // only the claim knows whether it is its key's head
		}
		l := d.lanes[dl.EndpointID]
		if l != nil {
			if until, ok := l.circuitWait(now); ok {
				// Its endpoint's circuit is open, half-open or paused: stored due when
				// it may be sent, so that neither a lane nor a claim handles it before.
				dl.NextAttempt = until
				waits = append(waits, until)
				continue
			}
		}
		if l != nil && l.busy() >= d.capacity(l) {
			continue
		}
		dl.Status, dl.NextAttempt, dl.Lease, dl.Message = hookd.StatusSending, until, 0, msg
		taken = append(taken, dl)
	}
	d.held.Add(int64(len(taken)))
	d.heldBytes.Add(size * int64(len(taken)))
	return taken
}

// Deliver starts the deliveries Take returned, once they are stored.
func (d *Dispatcher) Deliver(taken []*hookd.Delivery) {
	if len(taken) == 0 {
		return
	}
	d.met.startedAPI.Add(float64(len(taken)))
	var back []*hookd.Delivery
	for _, dl := range taken {
		if !d.enqueue(dl) {
			back = append(back, dl)
		}
	}
	if len(back) > 0 {
		// The dispatcher is stopping, or a lane filled up since Take: give them back.
		d.postpone(back, d.cfg.Now().Add(d.saturatedDelay(back)))
		d.release(back, false)
	}
}

// Abandon forgets the deliveries Take returned when the store did not accept them.
func (d *Dispatcher) Abandon(taken []*hookd.Delivery) {
	if len(taken) == 0 {
		return
	}
	d.release(taken, false)
}

package delivery

import (
	"context"

	"github.com/hookd/hookd"
)

// Ordered delivery (FIFO endpoints). The store hands out an ordered delivery only at
// the head of its (endpoint, ordering key) queue, so the dispatcher's part is small:
// ordered deliveries are never taken at accept time (Take), since only the claim knows
// whether a delivery is its key's head; an ordered delivery that fails for good is
// held where its endpoint stops on exhaustion, and its attempt says what became of its
// key; and once an ordered delivery is done, the claimer looks at once for the next
// of its key instead of waiting for its poll.

// fifoResults marks the ordered deliveries of batch that fail for good: their
// attempts note it, and on an endpoint that stops they are held (hookd.FIFOHold).
func (d *Dispatcher) fifoResults(ctx context.Context, batch []item) {
	for _, it := range batch {
		res := it.res
		if res == nil || res.Delivery == nil || !res.Delivery.Ordered || res.Status != hookd.StatusFail {
			continue
		}
		info := it.info
		if info == nil {
			var err error
			if info, err = d.endpoint(ctx, res.Delivery.AppID, res.Delivery.EndpointID); err != nil {
				info = nil // deleted, or the store is down: nothing to hold
			}
		}
		if info != nil {
			res.Hold = hookd.FIFOHold(info.ep, res)
		}
		if res.Attempt != nil {
			a := *res.Attempt
			note := hookd.FIFONote(res.Delivery, res.Hold)
			if a.Error != "" {
				note = a.Error + "; " + note
			}
			a.Error = hookd.StorableText(note)
			res.Attempt = &a
		}
	}
}

// fifoAdvanced returns the keys whose ordered delivery an item of batch ended
// without holding the key, so that the key's next delivery may be claimed now.
func fifoAdvanced(batch []item, recorded []bool) []hookd.FIFOKey {
	var keys []hookd.FIFOKey
	i := 0
	for _, it := range batch {
		if it.res == nil {
			continue
		}
		if recorded[i] && it.res.Delivery.Ordered && !it.res.Hold &&
			(it.res.Status == hookd.StatusSuccess || it.res.Status == hookd.StatusFail) {
			keys = append(keys, it.res.Delivery.Key())
		}
		i++
	}
	return keys
}

// fifoFlushHeld is the most deliveries the dispatcher may hold for an ordered result
// to be recorded without waiting FlushInterval for others to join its batch.
const fifoFlushHeld = 8

// recordNow reports whether it carries an ordered delivery's result that is to be
// recorded at once (fifoFlushHeld).
func (d *Dispatcher) recordNow(it item) bool {
	return it.res != nil && it.res.Delivery != nil && it.res.Delivery.Ordered && d.held.Load() <= fifoFlushHeld
}

// nextHeads claims the next delivery of each of the keys whose head this node just
// ended (FIFOStore.ClaimFIFOHeads) and hands them to their lanes, so that a key moves
// on at one send and two commits per message, without a claim round. What it cannot
// claim so (the store failed, the dispatcher holds its most, a next head not due yet)
// is left to the claimer, which it wakes.
func (d *Dispatcher) nextHeads(ctx context.Context, keys []hookd.FIFOKey) {
	if len(keys) == 0 || d.isStopping() {
		return // a stopping dispatcher leaves the keys to other nodes and its next run
	}
	if room := d.maxHeld - d.held.Load(); int64(len(keys)) > room || d.heldBytes.Load() >= d.cfg.MaxHeldBytes {
		d.Nudge()
		return
	}
	now := d.cfg.Now()
	ds, err := d.store.ClaimFIFOHeads(ctx, now, d.lease(), keys)
	if err != nil {
		d.log.Error("claim fifo heads", "err", err)
		d.Nudge()
		return
	}
	back, _ := d.admit(ds, now)
	if len(back) > 0 {
		until := now.Add(d.saturatedDelay(back))
		if d.isStopping() {
			until = now
		}
		d.postpone(back, until)
		d.release(back, false)
	}
	if len(ds) < len(keys) {
		d.Nudge() // a key whose next is not due yet: the claimer finds when it is
	}
}

// fifoEventData is the hookd extension of message.attempt.exhausted for an ordered
// delivery: its ordering key, and whether the key is halted behind it.
type fifoEventData struct {
	OrderingKey string `json:"orderingKey"`
	Halted      bool   `json:"halted"`
}

// fifoEvent returns the fifo data of an attempt event about res, or nil.
func fifoEvent(res *hookd.AttemptResult) *fifoEventData {
	if res.Delivery == nil || !res.Delivery.Ordered || res.Status != hookd.StatusFail {
		return nil
	}
	return &fifoEventData{OrderingKey: res.Delivery.OrderingKey, Halted: res.Hold}
}

// isStopping reports whether the dispatcher takes no more work.
func (d *Dispatcher) isStopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping || (d.runCtx != nil && d.runCtx.Err() != nil)
}

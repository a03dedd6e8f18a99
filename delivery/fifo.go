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

// fifoAdvanced reports whether an item of batch ended an ordered delivery without
// holding its key, so that the next delivery of the key may be claimed now.
func fifoAdvanced(batch []item, recorded []bool) bool {
	i := 0
	for _, it := range batch {
		if it.res == nil {
			continue
		}
		if recorded[i] && it.res.Delivery.Ordered && !it.res.Hold &&
			(it.res.Status == hookd.StatusSuccess || it.res.Status == hookd.StatusFail) {
			return true
		}
		i++
	}
	return false
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

package hookd

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// What a FIFO endpoint does when one of its deliveries fails for good (its retry
// schedule is exhausted, the receiver aborted retries, a manual attempt failed):
// Endpoint.FIFOOnExhausted.
const (
	// FIFOSkip reports the failed delivery and goes on with the next message of its
	// ordering key. It is the default.
	FIFOSkip = "skip"
	// FIFOStop halts the ordering key behind the failed delivery until it is resent,
	// recovered or released (FIFOStore.ReleaseFIFO).
	FIFOStop = "stop"
)

// MaxOrderingKeyLen bounds a message's OrderingKey, in bytes.
const MaxOrderingKeyLen = 256

// SetFIFO makes the endpoint ordered (fifo) or not, with what it does when a delivery
// fails for good: FIFOSkip or FIFOStop ("" is FIFOSkip).
func (e *Endpoint) SetFIFO(fifo bool, onExhausted string) error {
	if err := CheckFIFOOnExhausted("fifoOnExhausted", onExhausted); err != nil {
		return err
	}
	if onExhausted == "" {
		onExhausted = FIFOSkip
	}
	e.FIFO, e.FIFOOnExhausted = fifo, onExhausted
	return nil
}

// CheckFIFOOnExhausted checks a FIFOOnExhausted value given as field.
func CheckFIFOOnExhausted(field, v string) error {
	switch v {
	case "", FIFOSkip, FIFOStop:
		return nil
	}
	return Invalid(field, "%s must be %q or %q, not %q", field, FIFOSkip, FIFOStop, v)
}

// FIFOHalts reports whether the endpoint halts an ordering key behind a delivery
// that failed for good.
func (e *Endpoint) FIFOHalts() bool {
	return e.FIFOOnExhausted == FIFOStop
}

// CheckOrderingKey checks a message's orderingKey given as field: at most
// MaxOrderingKeyLen bytes of printable UTF-8 ("" is no key).
func CheckOrderingKey(field, key string) error {
	if len(key) > MaxOrderingKeyLen {
		return Invalid(field, "%s must be at most %d bytes", field, MaxOrderingKeyLen)
	}
	if !utf8.ValidString(key) {
		return Invalid(field, "%s must be UTF-8", field)
	}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return Invalid(field, "%s must not contain control or unprintable characters (found %U)", field, r)
		}
	}
	return nil
}

// order marks d as a delivery to a FIFO endpoint, in the queue of msg's ordering
// key.
func (d *Delivery) order(e *Endpoint, msg *Message) {
	if e.FIFO {
		d.Ordered, d.OrderingKey = true, msg.OrderingKey
	}
}

// FIFOHold reports whether a result ends its ordered delivery in a way that halts
// the delivery's ordering key: it fails for good on an endpoint that stops
// (Endpoint.FIFOHalts).
func FIFOHold(e *Endpoint, r *AttemptResult) bool {
	return e != nil && r.Delivery != nil && r.Delivery.Ordered && r.Status == StatusFail && e.FIFOHalts()
}

// FIFONote is what the attempt log says of an ordered delivery that failed for good:
// whether its ordering key is halted or goes on.
func FIFONote(d *Delivery, held bool) string {
	if held {
		return fmt.Sprintf("fifo: failed for good; ordering key %q is halted until this message is resent, recovered or released", d.OrderingKey)
	}
	return fmt.Sprintf("fifo: failed for good; skipped, the next message of ordering key %q follows", d.OrderingKey)
}

// FIFOKey names the queue of one ordering key: an endpoint and an OrderingKey.
type FIFOKey struct {
	EndpointID  string
	OrderingKey string
}

// Key returns the queue of an ordered delivery.
func (d *Delivery) Key() FIFOKey {
	return FIFOKey{EndpointID: d.EndpointID, OrderingKey: d.OrderingKey}
}

// FIFOState is what an endpoint's ordered deliveries are doing (FIFOStore.FIFOState).
type FIFOState struct {
	// Pending counts the ordered deliveries waiting: behind their key's head, or a
	// head waiting for its retry.
	Pending int
	// Sending counts the ordered deliveries out (at most one a key).
	Sending int
	// Keys counts the ordering keys with a delivery pending, sending or held.
	Keys int
	// HeldCount counts the held deliveries, one a halted key.
	HeldCount int
	// Halted lists held deliveries, by OrderingKey.
	Halted []FIFOHalt
}

// FIFOHalt is an ordering key halted behind a held delivery.
type FIFOHalt struct {
	OrderingKey string
	MsgID       string
	// Since is when the delivery failed for good and halted its key.
	Since time.Time
	// LastAttempt is the delivery's latest attempt, nil if none is logged (it was
	// purged).
	LastAttempt *Attempt
}

// FIFOStore is the part of a store that hands out the next delivery of given
// ordering keys and releases halted ones.
//
// The claim rule of ordered deliveries (DeliveryStore.ClaimDeliveries): an ordered
// delivery is handed out only when no earlier ordered delivery of the same endpoint
// and OrderingKey is pending (due or not), sending (leased) or Held. "Earlier" is the
// order in which the store created the deliveries, which for a message's fan-out is
// the order in which messages were accepted: a sequence the store assigns in insert
// order, never the message ID (IDs made in the same millisecond do not sort by
// creation).
type FIFOStore interface {
	// ClaimFIFOHeads leases, as ClaimDeliveries does, the head of each of the given
	// keys' queues where the claim rule lets it go at now: the earliest ordered
	// delivery of the key that is pending, sending or held, if it is due (pending or
	// sending, NextAttempt <= now) and not held. At most one delivery per key; a key
	// without such a head is left out. A dispatcher calls it when it has just ended a
	// key's head, so that the next goes without waiting for a claim round; the rule,
	// and SKIP LOCKED-style exclusion between nodes, are those of ClaimDeliveries.
	ClaimFIFOHeads(ctx context.Context, now time.Time, lease time.Duration, keys []FIFOKey) ([]*Delivery, error)
	// FIFOState counts the endpoint's ordered deliveries that are pending, sending
	// or held, and the keys they belong to, and lists up to limit of its held
	// deliveries (the halted keys) by OrderingKey, each with its latest attempt.
	// The endpoint must belong to appID (else ENOTFOUND).
	FIFOState(ctx context.Context, appID, endpointID string, limit int) (*FIFOState, error)
	// ReleaseFIFO clears Held on the endpoint's held deliveries, those of the
	// ordering key *key when key is not nil, so that the next messages of their
	// keys go on; the released deliveries stay failed. It returns how many it
	// released. The endpoint must belong to appID (else ENOTFOUND).
	ReleaseFIFO(ctx context.Context, appID, endpointID string, key *string) (int, error)
}

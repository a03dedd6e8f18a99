package hookd

import (
	"context"
	"time"
)

// Status is the state of a delivery or the outcome of an attempt. Its numeric values
// are the Svix API's MessageStatus.
type Status int

// Statuses.
const (
	StatusSuccess Status = 0
	StatusPending Status = 1
	StatusFail    Status = 2
	StatusSending Status = 3
)

// String returns the Svix statusText of s.
func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusPending:
		return "pending"
	case StatusFail:
		return "fail"
	case StatusSending:
		return "sending"
	}
	return "unknown"
}

// Trigger says why an attempt was made. Its numeric values are the Svix API's
// MessageAttemptTriggerType.
type Trigger int

// Triggers.
const (
	TriggerScheduled Trigger = 0
	TriggerManual    Trigger = 1
)

// Delivery is one message on its way to one endpoint. At most one delivery exists per
// (message, endpoint). docs/delivery.md draws its states and says which store method,
// called by whom, makes each transition.
type Delivery struct {
	ID         string
	AppID      string
	MsgID      string
	EndpointID string
	Status     Status
	// Attempts counts the attempts made in the current run of the retry schedule.
	Attempts int
	// NextAttempt is when the delivery is due. While a worker holds a lease on it,
	// NextAttempt is the lease's expiry: a crashed worker's delivery becomes due again
	// by itself.
	NextAttempt time.Time
	// Trigger is the trigger of the next attempt.
	Trigger Trigger
	// Lease identifies the current claim; it changes at every claim, so a worker whose
	// lease was lost cannot overwrite the newer claim's result. A delivery created
	// already leased to the dispatcher of the node that accepted its message (status
	// sending, NextAttempt the lease's expiry) keeps the initial 0, which no claim
	// hands out.
	Lease     int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Ordered marks a delivery to a FIFO endpoint, set at fan-out: it is claimed
	// only after the ordered deliveries created before it for the same endpoint and
	// OrderingKey are done (FIFOStore states the rule).
	Ordered bool
	// OrderingKey is the message's OrderingKey, for an ordered delivery.
	OrderingKey string
	// Held marks an ordered delivery that failed for good on an endpoint that stops
	// (FIFOStop): it halts its key until it is resent, recovered or released.
	Held bool

	// Message is filled in by ClaimDeliveries and EndpointDeliveries.
	Message *Message
}

// Claimable reports whether any of ds waits to be claimed: a store that creates them
// wakes the dispatchers only then, not for deliveries created already leased.
func Claimable(ds []*Delivery) bool {
	for _, d := range ds {
		if d.Status == StatusPending {
			return true
		}
	}
	return false
}

// AttemptResult is what a worker learned from one attempt, recorded by RecordAttempts.
type AttemptResult struct {
	// Delivery is the claimed delivery (ID and Lease identify the claim).
	Delivery *Delivery
	// Attempt is inserted into the attempt log whatever happened to the claim.
	Attempt *Attempt
	// Status is the delivery's new status: StatusPending (retry at NextAttempt),
	// StatusSuccess or StatusFail.
	Status      Status
	NextAttempt time.Time
	// Attempts is the delivery's new attempt count.
	Attempts int
	// Hold is the delivery's new Held (FIFOHold).
	Hold bool
}

// KeyedAttempt returns r.Attempt with the keys it leaves empty (AppID, MsgID,
// EndpointID) taken from r.Delivery: a copy when any is filled in, r.Attempt itself
// otherwise, and nil without an attempt. The caller's attempt is never changed.
func (r AttemptResult) KeyedAttempt() *Attempt {
	a, d := r.Attempt, r.Delivery
	if a == nil || d == nil || (a.AppID != "" && a.MsgID != "" && a.EndpointID != "") {
		return a
	}
	c := *a
	if c.AppID == "" {
		c.AppID = d.AppID
	}
	if c.MsgID == "" {
		c.MsgID = d.MsgID
	}
	if c.EndpointID == "" {
		c.EndpointID = d.EndpointID
	}
	return &c
}

// DeliveryStore persists deliveries and hands them out to workers.
type DeliveryStore interface {
	// ClaimDeliveries leases up to limit deliveries that are due at now (status pending
	// or sending, NextAttempt <= now), oldest due first: it sets their status to
	// sending, NextAttempt to now+lease and a new Lease, and returns them with their
	// Message. Several nodes may call it at once; no delivery is handed out twice while
	// its lease holds. An ordered delivery is handed out only while no ordered
	// delivery created before it for the same endpoint and OrderingKey is pending,
	// sending or Held (FIFOStore), so at most one of a key is out at a time.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Delivery, error)
	// RecordAttempts records a batch of results; all of them commit together.
	//
	// Each result's attempt (r.KeyedAttempt: empty keys are those of its delivery) is
	// inserted into the attempt log whatever happened to the claim, unless its message
	// no longer exists (its application was deleted while the attempt was in flight):
	// such an attempt is dropped, without failing the batch, as the rest of the
	// application's log already was. An attempt whose ID is logged already is not
	// inserted again, so recording a batch a second time (after an error that left
	// unclear whether it committed) changes nothing twice.
	//
	// Where the delivery still carries the result's Lease, its status, NextAttempt,
	// Attempts and Held (the result's Hold) become the result's, and its Trigger becomes TriggerScheduled: any later
	// attempt is a scheduled retry unless a resend or a recover makes it manual again.
	//
	// The endpoints' FailingSince are set as EndpointHealth says for the batch's
	// attempts, in order.
	//
	// The attempts it inserts, and only those, are added to the per-minute counters
	// (CountAttempts): an attempt dropped or already logged is not counted again.
	RecordAttempts(ctx context.Context, results []AttemptResult) error
	// PostponeDeliveries gives back claimed deliveries unattempted: where the Lease still
	// matches, status returns to pending and NextAttempt becomes until.
	PostponeDeliveries(ctx context.Context, deliveries []*Delivery, until time.Time) error
	// NextDue returns the earliest NextAttempt of any pending or sending delivery that
	// ClaimDeliveries could hand out then (an ordered delivery waiting behind an
	// earlier one of its key is not), and false when there is none.
	NextDue(ctx context.Context) (time.Time, bool, error)

	// CreateDeliveries inserts deliveries, skipping any (message, endpoint) pair that
	// already has one; it returns how many it inserted.
	CreateDeliveries(ctx context.Context, deliveries []*Delivery) (int, error)
	// ResendDelivery makes the (message, endpoint) delivery due at now with a manual
	// trigger, Attempts reset to 0 and Held cleared, creating it with ID id if it does not exist.
	// The message and the endpoint must both belong to appID (else ENOTFOUND).
	ResendDelivery(ctx context.Context, id, appID, msgID, endpointID string, now time.Time) error
	// RecoverDeliveries makes due at now, with a manual trigger, Attempts reset to 0
	// and Held cleared,
	// every failed delivery of the endpoint whose message was accepted in
	// [since, until); a zero until means no upper bound. It returns how many.
	RecoverDeliveries(ctx context.Context, appID, endpointID string, since, until, now time.Time) (int, error)
	// MessageDeliveries returns the deliveries of one message, by endpoint ID.
	MessageDeliveries(ctx context.Context, appID, msgID string, page Page) ([]*Delivery, error)
	// EndpointDeliveries returns the deliveries to one endpoint with their Message,
	// ordered by message ID; filter applies to the messages.
	EndpointDeliveries(ctx context.Context, appID, endpointID string, filter DeliveryFilter, page Page) ([]*Delivery, error)
	// DeliveryCounts counts all deliveries of the server by status.
	DeliveryCounts(ctx context.Context) (EndpointStats, error)
}

// DeliveryFilter narrows a list of deliveries.
type DeliveryFilter struct {
	Status     *Status
	EventTypes []string
	Channel    string
	Tag        string
	Before     time.Time
	After      time.Time
}

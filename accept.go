package hookd

import (
	"context"
	"time"
)

// FanOut returns the deliveries of msg: one to each endpoint of eps that Matches it
// and whose PayloadFilter, if any, matches its payload, pending and due at now with
// the given trigger, in the order of eps, with IDs from ids. The payload is decoded
// once, and only when an endpoint has a filter; a payload that does not decode
// matches no filter. Those to FIFO endpoints are Ordered, in the queue of msg's
// OrderingKey.
func FanOut(msg *Message, eps []*Endpoint, now time.Time, trigger Trigger, ids IDGen) []*Delivery {
	var (
		ds      []*Delivery
		doc     any
		decoded bool
		docErr  error
	)
	for _, e := range eps {
		if !e.Matches(msg.EventType, msg.Channels) {
			continue
		}
		if e.PayloadFilter != nil {
			if !decoded {
				doc, docErr = DecodePayload(msg.Payload)
				decoded = true
			}
			if docErr != nil || !e.PayloadFilter.MatchValue(doc) {
				continue
			}
		}
		d := &Delivery{
			ID: ids.New(PrefixDelivery), AppID: msg.AppID, MsgID: msg.ID, EndpointID: e.ID,
			Status: StatusPending, NextAttempt: now, Trigger: trigger, CreatedAt: now, UpdatedAt: now,
		}
		d.order(e, msg)
		ds = append(ds, d)
	}
	return ds
}

// Handoff is the local delivery dispatcher's side of accepting a message, so that a
// new message's deliveries start at once instead of waiting to be claimed. Take
// marks, among the deliveries of msg not stored yet, those the dispatcher has room
// for as leased to it, and returns them; once the store has accepted them they go to
// Deliver, and if it has not, to Abandon. Take may also set a later NextAttempt on a
// delivery it leaves, one whose endpoint may not be sent to before then (its circuit
// open or paused); that delivery is stored due then. Acceptor.Accept is the one
// caller of this protocol.
type Handoff interface {
	Take(msg *Message, ds []*Delivery) []*Delivery
	Deliver(taken []*Delivery)
	Abandon(taken []*Delivery)
}

// MessageCreator is the part of a Store that accepting a message writes to.
type MessageCreator interface {
	CreateMessage(ctx context.Context, msg *Message, deliveries []*Delivery) (*Message, error)
}

// Acceptor accepts new messages. It is the one way a message and its fan-out enter
// hookd: the API's message create and the dispatcher's operational events both go
// through it.
type Acceptor struct {
	// Store keeps the message and its deliveries.
	Store MessageCreator
	// Handoff, if set, is this node's dispatcher; without one the deliveries wait to
	// be claimed.
	Handoff Handoff
	// IDs makes the deliveries' IDs.
	IDs IDGen
}

// Accept stores msg (its ID and Timestamp set) together with one delivery per
// endpoint of eps it matches (FanOut), in one transaction, and returns the deliveries
// once that has committed. They are due at due, or at once when due is not after
// msg.Timestamp (a zero due included). Deliveries due at once that the Handoff takes
// before the write start as soon as it commits; if the write fails they are
// abandoned, and nothing is sent. Deliveries due later wait in the store.
//
// If msg.EventID is set and the application already has a message with it, nothing
// is stored and the error is an ECONFLICT naming the earlier message.
func (a Acceptor) Accept(ctx context.Context, msg *Message, eps []*Endpoint, due time.Time) ([]*Delivery, error) {
	ds := FanOut(msg, eps, msg.Timestamp, TriggerScheduled, a.IDs)
	later := due.After(msg.Timestamp)
	if later {
		for _, d := range ds {
			d.NextAttempt = due
		}
	}
	var taken []*Delivery
	if a.Handoff != nil && len(ds) > 0 && !later {
		taken = a.Handoff.Take(msg, ds)
	}
	prev, err := a.Store.CreateMessage(ctx, msg, ds)
	if len(taken) > 0 {
		if err != nil {
			a.Handoff.Abandon(taken)
		} else {
			a.Handoff.Deliver(taken)
		}
	}
	if IsConflict(err) && prev != nil {
		return nil, Errorf(ECONFLICT, "a message with eventId %q already exists in this application (%s)", prev.EventID, prev.ID)
	}
	if err != nil {
		return nil, err
	}
	return ds, nil
}

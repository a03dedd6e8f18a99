package hookd

import (
	"context"
	"encoding/json"
	"time"
)

// Message is one event an application sent. It is immutable once accepted.
type Message struct {
	ID        string
	AppID     string
	EventType string
	// EventID is the application's own idempotency key: a second message with the same
	// EventID in one application is not created.
	EventID  string
	Payload  json.RawMessage
	Channels []string
	Tags     []string
	// OrderingKey groups the messages a FIFO endpoint delivers in order: order is
	// kept per key, and messages without one share the empty key.
	OrderingKey string
	// Timestamp is when hookd accepted the message.
	Timestamp time.Time

	// Idempotency, when set, is the API's answer to the request that creates the
	// message, stored under its Key in the message's own transaction (not with the
	// message). If the key already holds an answer, or a claim newer than
	// IdempotencyClaimStale, CreateMessage stores nothing and returns an
	// *IdempotentReplay, or an EIDEMPOTENTBUSY error.
	Idempotency *IdempotentResponse
	// PayloadExpiresAt is when the payload (and the bodies of its attempts) may be
	// purged; zero keeps it until the message itself goes (metadata retention).
	PayloadExpiresAt time.Time
}

// PayloadExpired reports whether retention has purged the message's payload: the
// store keeps an empty payload then (an expunged one is "{}"), and the message can no
// longer be sent again.
func (m *Message) PayloadExpired() bool { return len(m.Payload) == 0 }

// MessageFilter narrows a list of messages.
type MessageFilter struct {
	EventTypes []string
	Channel    string
	Tag        string
	Before     time.Time // zero: no bound
	After      time.Time // zero: no bound
}

// MessageStore persists messages.
type MessageStore interface {
	// CreateMessage inserts msg and its deliveries in one transaction, so a message is
	// never accepted without its fan-out. If msg.EventID is set and the application
	// already has a message with that EventID, nothing is written and the earlier
	// message is returned together with an ECONFLICT error.
	CreateMessage(ctx context.Context, msg *Message, deliveries []*Delivery) (*Message, error)
	// Message returns the application's message whose ID or EventID is idOrEventID.
	Message(ctx context.Context, appID, idOrEventID string) (*Message, error)
	// Messages lists the application's messages by ID.
	Messages(ctx context.Context, appID string, filter MessageFilter, page Page) ([]*Message, error)
	// ExpungeMessageContent erases the content of one message as
	// ExpungeMessageContents does, or returns ENOTFOUND.
	ExpungeMessageContent(ctx context.Context, appID, msgID string) error
	// ExpungeMessageContents erases the content of the application's messages msgIDs
	// (IDs, not eventIds) in one transaction and returns the IDs it found: each
	// payload becomes an empty object, the response bodies of the messages' attempts
	// are cleared (a receiver may echo what it got), and the idempotency-key answers
	// that hold a message (the answer to the POST that created it) are deleted. No
	// table then holds the payload; the space it took may keep its bytes until
	// ReclaimExpunged.
	ExpungeMessageContents(ctx context.Context, appID string, msgIDs []string) ([]string, error)
	// ReclaimExpunged makes the space that expunged content took unreadable in the
	// store's files as far as the store can without stopping writes: SQLite zeroes
	// freed space as it frees it (secure_delete) and truncates its WAL; PostgreSQL
	// removes the old row versions (VACUUM), whose bytes stay in the pages' free
	// space until reused, unless compact is set, which rewrites the tables that held
	// content (VACUUM FULL: they are locked meanwhile). It may take a while on a
	// large store; tasks call it once at their end.
	ReclaimExpunged(ctx context.Context, compact bool) error
}

package hookd

import (
	"context"
	"time"
)

// MessageSearch narrows an operator's search of messages across applications; zero
// fields keep all. Before and After are exclusive bounds on the message's Timestamp.
type MessageSearch struct {
	AppID      string
	EventTypes []string
	EventID    string
	Tag        string
	Channel    string
	// Status keeps the messages with at least one delivery in that status.
	Status *Status
	Before time.Time
	After  time.Time
}

// AttemptSearch narrows an operator's search of attempts across applications; zero
// fields keep all. Before and After are exclusive bounds on the attempt's Timestamp.
type AttemptSearch struct {
	AppID      string
	EndpointID string
	// StatusCode keeps the attempts that got this HTTP status (0: those that got no
	// response).
	StatusCode *int
	Status     *Status
	Before     time.Time
	After      time.Time
}

// SearchSlack is how much later than its Timestamp a record's ID time may be: a
// message's ID is made as it is accepted, an attempt's once its response came (at
// most MaxEndpointTimeout after its Timestamp, plus the time to decide). Searches
// narrow a time range to the IDs of the range, its end widened by SearchSlack (its
// start by a second, for clocks that step back), then check Timestamp itself.
const SearchSlack = MaxEndpointTimeout + 5*time.Minute

// SearchIDRange returns the ID bounds (inclusive from, exclusive to; "" for none)
// that hold every record with the given prefix whose Timestamp is within (after, before).
func SearchIDRange(prefix string, after, before time.Time) (from, to string) {
	if !after.IsZero() {
		from = IDAt(prefix, after.Add(-time.Second))
	}
	if !before.IsZero() {
		to = IDAt(prefix, before.Add(SearchSlack))
	}
	return from, to
}

// SearchStore answers an operator's searches across applications. Each search reads
// an index in ID order (newest first unless the page asks otherwise), so a page costs
// about as many rows as it holds whatever the size of the store; when several filters
// are given, the most selective index drives (eventId, tag, channel, failed status,
// event type, status code) and the others are checked on its rows.
type SearchStore interface {
	// SearchMessages lists the messages that match s, by ID.
	SearchMessages(ctx context.Context, s MessageSearch, page Page) ([]*Message, error)
	// SearchAttempts lists the attempts that match s, by ID.
	SearchAttempts(ctx context.Context, s AttemptSearch, page Page) ([]*Attempt, error)
}

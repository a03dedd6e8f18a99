// Package hookd is the domain of the hookd webhook sending service: the types that
// applications, endpoints, event types, messages, deliveries and attempts are made of,
// the store interfaces the storage adapters implement, the retry policy and the
// application error type. It imports nothing of hookd's own and only the standard
// library, so every other package can depend on it.
package hookd

import (
	"context"
	"time"
)

// Store is everything hookd persists. The sqlite and postgres packages implement it and
// both pass the storetest conformance suite. Stores are thin: they run SQL and return
// rows; validation, fan-out rules and retry timing live above them.
type Store interface {
	AppStore
	EndpointStore
	EventTypeStore
	MessageStore
	DeliveryStore
	FIFOStore
	AttemptStore
	IdempotencyStore
	SettingStore
	NodeStore
	StatsStore
	TokenStore
	TaskStore
	SearchStore
	RetentionStore
	CircuitStore

	// Wake returns a channel that receives a value (best effort, coalesced) whenever
	// any node commits new due work: a new message's deliveries, a resend, a recover.
	// Dispatchers select on it so they never wait for a poll interval.
	Wake() <-chan struct{}

	// Ping checks that the store can serve requests (used by /readyz).
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}

// Page asks a list method for one page of results. Lists are ordered by ID, which is
// time-sortable, so Iterator is simply the last ID of the previous page.
type Page struct {
	// Limit is the maximum number of rows; stores read it through Size.
	Limit int
	// Iterator is the exclusive starting ID ("" for the first page).
	Iterator string
	// Ascending orders by ID from oldest to newest; the default is newest first.
	Ascending bool
}

// Page sizes.
const (
	// DefaultPageLimit is the size of a page that asks for none (Limit < 1).
	DefaultPageLimit = 50
	// MaxPageLimit is the largest page a store returns, whatever Limit asks. It is
	// above the API's largest page (250) so that the API can ask for a row or two more
	// than it shows (to learn whether a page is the last, and to leave out hookd's own
	// operational application).
	MaxPageLimit = 1000
)

// Size returns the number of rows a store returns at most for p: Limit clamped to
// [1, MaxPageLimit], DefaultPageLimit when Limit is below 1.
func (p Page) Size() int {
	switch {
	case p.Limit < 1:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// Clock returns the current time. Logic takes a Clock instead of calling time.Now so
// tests can drive time.
type Clock func() time.Time

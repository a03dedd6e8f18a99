package hookd

import (
	"context"
	"encoding/json"
	"time"
)

// EventType is a kind of message, such as "invoice.paid". Event types are global to the
// server (shared by all applications), as in the Svix API.
type EventType struct {
	Name        string
	Description string
	Archived    bool
	Deprecated  bool
	FeatureFlag string
	// Schemas holds a JSON Schema per version ("1", "2", …).
	Schemas map[string]json.RawMessage
	// RetrySchedule overrides the server's schedule for messages of this type.
	RetrySchedule string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// EventTypeFilter narrows a list of event types.
type EventTypeFilter struct {
	IncludeArchived bool
}

// EventTypeStore persists event types.
type EventTypeStore interface {
	// CreateEventType inserts et; a name already used is ECONFLICT.
	CreateEventType(ctx context.Context, et *EventType) error
	// EventType returns the event type named name, or ENOTFOUND.
	EventType(ctx context.Context, name string) (*EventType, error)
	// UpdateEventType replaces every mutable field of the event type et.Name.
	UpdateEventType(ctx context.Context, et *EventType) error
	// DeleteEventType deletes the event type.
	DeleteEventType(ctx context.Context, name string) error
	// EventTypes lists event types by name; Page.Iterator is the last name seen.
	EventTypes(ctx context.Context, filter EventTypeFilter, page Page) ([]*EventType, error)
}

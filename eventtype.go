package hookd

import (
	"context"
	"encoding/json"
	"strconv"
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
	// EnforceSchema makes message create refuse a payload that its newest schema
	// (NewestSchema) does not validate, as the server's --enforce-schemas does for
	// every event type (a hookd extension).
	EnforceSchema bool
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

// NewestSchema returns the newest version of the event type's JSON Schema (the
// highest numbered one) and that version's name, or "" without any schema.
func (et *EventType) NewestSchema() (string, json.RawMessage) {
	newest, best := "", -1
	for v := range et.Schemas {
		n, err := strconv.Atoi(v)
		switch {
		case err == nil && n > best:
			newest, best = v, n
		case best < 0 && (newest == "" || v > newest):
			newest = v
		}
	}
	if newest == "" {
		return "", nil
	}
	return newest, et.Schemas[newest]
}

// Examples returns the example payloads of a JSON Schema: its "examples" array, or
// its single "example"; none for a schema without them or one that is not an object.
func Examples(schema json.RawMessage) []json.RawMessage {
	var s struct {
		Examples []json.RawMessage `json:"examples"`
		Example  json.RawMessage   `json:"example"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	if len(s.Examples) > 0 {
		return s.Examples
	}
	if len(s.Example) > 0 {
		return []json.RawMessage{s.Example}
	}
	return nil
}

package api

import (
	"net/http"

	"github.com/hookd/hookd"
)

// eventExampleIn is Svix's EventExampleIn.
type eventExampleIn struct {
	EventType    *string `json:"eventType"`
	ExampleIndex *int64  `json:"exampleIndex"`
}

// sendExample sends the endpoint, and only it, a real message whose payload is an
// example from the event type's newest schema: a test event, logged like any other.
func (s *Server) sendExample(w http.ResponseWriter, r *http.Request) error {
	var in eventExampleIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.EventType == nil || *in.EventType == "" {
		return invalid("eventType", "eventType is required")
	}
	index := 0
	if in.ExampleIndex != nil {
		if *in.ExampleIndex < 0 {
			return invalid("exampleIndex", "exampleIndex must not be negative")
		}
		index = int(min(*in.ExampleIndex, 1<<20))
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if e.Disabled {
		return invalid("endpoint_id", "the endpoint is disabled: enable it to send it an example")
	}
	et, err := s.store.EventType(r.Context(), *in.EventType)
	if hookd.IsNotFound(err) {
		return invalid("eventType", "no event type is named "+*in.EventType)
	}
	if err != nil {
		return err
	}
	version, schema := et.NewestSchema()
	examples := hookd.Examples(schema)
	if len(examples) == 0 {
		return invalid("eventType", "event type "+et.Name+" has no example in its schema")
	}
	if index >= len(examples) {
		return invalid("exampleIndex", "schema version "+version+" of "+et.Name+" has fewer examples")
	}
	now := s.now()
	msg := &hookd.Message{ID: s.cfg.IDs.New(hookd.PrefixMessage), AppID: a.ID, EventType: et.Name,
		Payload: compactPayload(examples[index]), Timestamp: now}
	// To this endpoint whatever its filters: it asked for this example.
	target := *e
	target.FilterTypes, target.Channels, target.PayloadFilter = nil, nil, nil
	if _, err := s.accept.Accept(r.Context(), msg, []*hookd.Endpoint{&target}, now); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, msgOut(true)(msg))
	return nil
}

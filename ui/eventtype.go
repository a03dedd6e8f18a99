package ui

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/hookd/hookd"
)

// eventTypeView is an event type with its schemas and their examples ready to show.
type eventTypeView struct {
	*hookd.EventType
	Versions []schemaVersion
	// Example is the newest schema's first example, "" if none.
	Example string
}

// schemaVersion is one version of an event type's JSON Schema.
type schemaVersion struct {
	Version string
	Schema  string
	Example string
}

// exampleOf returns the first of a JSON Schema's "examples", indented, or "".
func exampleOf(schema json.RawMessage) string {
	var s struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if json.Unmarshal(schema, &s) != nil || len(s.Examples) == 0 {
		return ""
	}
	return prettyJSON(s.Examples[0])
}

func newEventTypeView(et *hookd.EventType) eventTypeView {
	v := eventTypeView{EventType: et}
	versions := make([]string, 0, len(et.Schemas))
	for ver := range et.Schemas {
		versions = append(versions, ver)
	}
	slices.Sort(versions)
	for _, ver := range versions {
		sv := schemaVersion{Version: ver, Schema: prettyJSON(et.Schemas[ver]), Example: exampleOf(et.Schemas[ver])}
		v.Versions = append(v.Versions, sv)
		if sv.Example != "" {
			v.Example = sv.Example
		}
	}
	return v
}

// eventTypes reads one page of the catalogue (archived types left out).
func (h *Handler) eventTypes(r *http.Request) ([]eventTypeView, string, error) {
	ets, err := h.cfg.Store.EventTypes(r.Context(), hookd.EventTypeFilter{},
		hookd.Page{Limit: 250, Ascending: true, Iterator: r.URL.Query().Get("iterator")})
	if err != nil {
		return nil, "", err
	}
	out := make([]eventTypeView, 0, len(ets))
	for _, et := range ets {
		out = append(out, newEventTypeView(et))
	}
	return out, nextIterator(ets, 250, func(et *hookd.EventType) string { return et.Name }), nil
}

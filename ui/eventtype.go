package ui

import (
	"net/http"
	"slices"

	"github.com/hookd/hookd"
)

// eventTypeView is an event type with its schemas and their examples ready to show.
type eventTypeView struct {
	*hookd.EventType
	Versions []schemaVersion
	// Example is the newest schema's first example, "" if none: what a test event
	// sends.
	Example string
}

// schemaVersion is one version of an event type's JSON Schema.
type schemaVersion struct {
	Version string
	Schema  string
	Example string
}

func newEventTypeView(et *hookd.EventType) eventTypeView {
	v := eventTypeView{EventType: et}
	versions := make([]string, 0, len(et.Schemas))
	for ver := range et.Schemas {
		versions = append(versions, ver)
	}
	slices.Sort(versions)
	for _, ver := range versions {
		sv := schemaVersion{Version: ver, Schema: prettyJSON(et.Schemas[ver])}
		if ex := hookd.Examples(et.Schemas[ver]); len(ex) > 0 {
			sv.Example = prettyJSON(ex[0])
		}
		v.Versions = append(v.Versions, sv)
	}
	if _, schema := et.NewestSchema(); schema != nil {
		if ex := hookd.Examples(schema); len(ex) > 0 {
			v.Example = prettyJSON(ex[0])
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

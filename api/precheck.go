package api

import (
	"net/http"
	"slices"

	"github.com/hookd/hookd"
)

// messagePrecheckIn is Svix's MessagePrecheckIn.
type messagePrecheckIn struct {
	EventType *string  `json:"eventType"`
	Channels  []string `json:"channels"`
}

type messagePrecheckOut struct {
	Active bool `json:"active"`
}

// precheckMessage answers whether a message of the event type, on the channels, would
// reach any endpoint of the application, by the same matching as fan-out. The
// precheck carries no payload, so an endpoint's payload filter counts as one that
// might match.
func (s *Server) precheckMessage(w http.ResponseWriter, r *http.Request) error {
	var in messagePrecheckIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.EventType == nil {
		return invalid("eventType", "eventType is required")
	}
	if err := checkName("eventType", *in.EventType, 256); err != nil {
		return err
	}
	if len(in.Channels) > 10 {
		return invalid("channels", "a message may be sent on at most 10 channels")
	}
	if err := checkNames("channels", in.Channels, 128); err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	eps, err := s.store.AllEndpoints(r.Context(), a.ID)
	if err != nil {
		return err
	}
	active := slices.ContainsFunc(eps, func(e *hookd.Endpoint) bool { return e.Matches(*in.EventType, in.Channels) })
	writeJSON(w, http.StatusOK, messagePrecheckOut{Active: active})
	return nil
}

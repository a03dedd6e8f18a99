package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hookd/hookd"
)

// parseFilter parses a payload filter of the request body's field, "" for none. Its
// error is a 422 whose location goes on into the filter, such as
// ["body", "payloadFilter", "and", "1", "gt"].
func parseFilter(field string, raw json.RawMessage) (*hookd.PayloadFilter, error) {
	f, err := hookd.ParsePayloadFilter(field, raw)
	if err != nil {
		var fe *hookd.FilterError
		if !errors.As(err, &fe) {
			return nil, err
		}
		msg := hookd.ErrorMessage(err)
		return nil, &hookd.Error{Code: hookd.EINVALID, Field: field, Message: msg,
			Err: &validationError{loc: append([]string{"body", field}, fe.Loc...), typ: "value_error.filter", msg: msg}}
	}
	return f, nil
}

// setPayloadFilter sets e's filter from a body field: null clears it.
func setPayloadFilter(e *hookd.Endpoint, in optional[json.RawMessage]) error {
	if !in.Set {
		return nil
	}
	if in.Null {
		e.PayloadFilter = nil
		return nil
	}
	f, err := parseFilter("payloadFilter", in.Value)
	if err != nil {
		return err
	}
	e.PayloadFilter = f
	return nil
}

// filterTestIn is the body of POST /api/v1/filter/test and of
// POST …/endpoint/{endpoint_id}/filter/test (where the filter may be left out: the
// endpoint's own is tried).
type filterTestIn struct {
	Filter  json.RawMessage `json:"filter"`
	Payload json.RawMessage `json:"payload"`
}

type filterTestOut struct {
	Matches bool `json:"matches"`
	// Filter is the filter that was tried, compact; null for an endpoint without one.
	Filter *hookd.PayloadFilter `json:"filter"`
}

// checkFilterPayload validates the payload a filter is tried on, as a message's.
func (s *Server) checkFilterPayload(p json.RawMessage) error {
	if p == nil || string(p) == "null" {
		return invalid("payload", "payload is required")
	}
	if int64(len(p)) > s.cfg.MaxPayloadBytes {
		return hookd.Errorf(hookd.ETOOLARGE, "payload is %d bytes, more than the %d-byte limit", len(p), s.cfg.MaxPayloadBytes)
	}
	if p[0] != '{' {
		return invalidType("payload", "payload must be a JSON object")
	}
	return nil
}

// testFilter answers whether a payload matches a filter, as fan-out would decide.
func (s *Server) testFilter(w http.ResponseWriter, r *http.Request) error {
	var in filterTestIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Filter == nil || string(in.Filter) == "null" {
		return invalid("filter", "filter is required")
	}
	f, err := parseFilter("filter", in.Filter)
	if err != nil {
		return err
	}
	if err := s.checkFilterPayload(in.Payload); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, filterTestOut{Matches: f.Match(in.Payload), Filter: f})
	return nil
}

// testEndpointFilter answers whether a payload matches the endpoint's payload filter,
// or the filter in the body, so that a filter can be tried before it is saved. An
// endpoint without a filter matches every payload. Its event types and channels are
// not considered.
func (s *Server) testEndpointFilter(w http.ResponseWriter, r *http.Request) error {
	var in filterTestIn
	if err := decode(r, &in); err != nil {
		return err
	}
	_, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	f := e.PayloadFilter
	if in.Filter != nil && string(in.Filter) != "null" {
		if f, err = parseFilter("filter", in.Filter); err != nil {
			return err
		}
	}
	if err := s.checkFilterPayload(in.Payload); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, filterTestOut{Matches: f == nil || f.Match(in.Payload), Filter: f})
	return nil
}

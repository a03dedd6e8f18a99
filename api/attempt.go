package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

type attemptOut struct {
	ID                 string      `json:"id"`
	MsgID              string      `json:"msgId"`
	EndpointID         string      `json:"endpointId"`
	URL                string      `json:"url"`
	Response           string      `json:"response"`
	ResponseStatusCode int         `json:"responseStatusCode"`
	ResponseDurationMs int64       `json:"responseDurationMs"`
	Status             int         `json:"status"`
	StatusText         string      `json:"statusText"`
	TriggerType        int         `json:"triggerType"`
	Timestamp          time.Time   `json:"timestamp"`
	Msg                *messageOut `json:"msg,omitempty"`
}

func atOut(withContent bool) func(*hookd.Attempt) attemptOut {
	return func(at *hookd.Attempt) attemptOut {
		out := attemptOut{
			ID: at.ID, MsgID: at.MsgID, EndpointID: at.EndpointID, URL: at.URL,
			ResponseStatusCode: at.ResponseStatusCode, ResponseDurationMs: at.Duration.Milliseconds(),
			Status: int(at.Status), StatusText: at.Status.String(), TriggerType: int(at.Trigger), Timestamp: at.Timestamp.UTC(),
		}
		if withContent {
			out.Response = at.Response
			if out.Response == "" && at.Error != "" {
				// No response came: say why instead.
				out.Response = at.Error
			}
		}
		return out
	}
}

// attemptFilter reads the attempt list filters from the query.
func attemptFilter(r *http.Request) (hookd.AttemptFilter, error) {
	var f hookd.AttemptFilter
	var err error
	if f.Status, err = queryStatus(r); err != nil {
		return f, err
	}
	if v := r.URL.Query().Get("status_code_class"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 500 || n%100 != 0 {
			return f, invalidQuery("status_code_class", "status_code_class must be 0, 100, 200, 300, 400 or 500")
		}
		if n == 0 {
			f.NoResponse = true
		} else {
			f.StatusCodeClass = n
		}
	}
	if f.EventTypes, err = queryList(r, "event_types"); err != nil {
		return f, err
	}
	f.Channel = r.URL.Query().Get("channel")
	f.EndpointID = r.URL.Query().Get("endpoint_id")
	if f.Before, err = queryTime(r, "before"); err != nil {
		return f, err
	}
	if f.After, err = queryTime(r, "after"); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) listAttemptsByMessage(w http.ResponseWriter, r *http.Request) error {
	return s.listMessageAttempts(w, r, "")
}

// listAttemptsForEndpoint lists one message's attempts to one endpoint.
func (s *Server) listAttemptsForEndpoint(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r)
	if err != nil {
		return err
	}
	e, err := s.store.Endpoint(r.Context(), a.ID, r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	return s.listMessageAttempts(w, r, e.ID)
}

func (s *Server) listMessageAttempts(w http.ResponseWriter, r *http.Request, endpointID string) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	f, err := attemptFilter(r)
	if err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	a, m, err := s.message(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if f.EndpointID != "" {
		e, err := s.store.Endpoint(ctx, a.ID, f.EndpointID)
		if err != nil {
			return err
		}
		f.EndpointID = e.ID
	}
	if endpointID != "" {
		f.EndpointID = endpointID
	}
	ats, err := s.store.AttemptsByMessage(ctx, a.ID, m.ID, f, probe(p))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(p, ats, func(at *hookd.Attempt) string { return at.ID }, atOut(withContent)))
	return nil
}

func (s *Server) listAttemptsByEndpoint(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	f, err := attemptFilter(r)
	if err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	withMsg, err := queryBool(r, "with_msg", false)
	if err != nil {
		return err
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ats, err := s.store.AttemptsByEndpoint(ctx, a.ID, e.ID, f, probe(p))
	if err != nil {
		return err
	}
	out := paginate(p, ats, func(at *hookd.Attempt) string { return at.ID }, atOut(withContent))
	if withMsg {
		msgs := map[string]*messageOut{}
		total := 0
		for i := range out.Data {
			id := out.Data[i].MsgID
			if _, ok := msgs[id]; !ok {
				m, err := s.store.Message(ctx, a.ID, id)
				if err != nil && !hookd.IsNotFound(err) {
					return err
				}
				if i > 0 && total+messageBytes(m) > maxPageBytes {
					// The page would carry too many payload bytes: end it here (see
					// maxPageBytes).
					out.Data = out.Data[:i]
					it := out.Data[i-1].ID
					out.Iterator, out.Done = &it, false
					break
				}
				total += messageBytes(m)
				if m != nil {
					mo := msgOut(withContent)(m)
					msgs[id] = &mo
				} else {
					msgs[id] = nil
				}
			}
			out.Data[i].Msg = msgs[id]
		}
	}
	writeList(w, out)
	return nil
}

// attempt returns the attempt the request's path names.
func (s *Server) attempt(r *http.Request) (*hookd.Attempt, error) {
	a, m, err := s.message(r)
	if err != nil {
		return nil, err
	}
	return s.store.Attempt(r.Context(), a.ID, m.ID, r.PathValue("attempt_id"))
}

func (s *Server) getAttempt(w http.ResponseWriter, r *http.Request) error {
	at, err := s.attempt(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, atOut(true)(at))
	return nil
}

// attemptHeadersOut is MessageAttemptHeadersOut: the headers hookd sent, the
// names among them whose values are redacted, and the headers of the response (null
// without one).
type attemptHeadersOut struct {
	SentHeaders     map[string]string `json:"sentHeaders"`
	ResponseHeaders [][2]string       `json:"responseHeaders"`
	Sensitive       []string          `json:"sensitive"`
}

func (s *Server) getAttemptHeaders(w http.ResponseWriter, r *http.Request) error {
	at, err := s.attempt(r)
	if err != nil {
		return err
	}
	out := attemptHeadersOut{SentHeaders: map[string]string{}, Sensitive: []string{}}
	if h := at.Headers; h != nil {
		out.SentHeaders, out.ResponseHeaders = h.Sent, h.Response
		if h.Sensitive != nil {
			out.Sensitive = h.Sensitive
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) expungeAttemptContent(w http.ResponseWriter, r *http.Request) error {
	a, m, err := s.message(r)
	if err != nil {
		return err
	}
	if err := s.store.ExpungeAttemptContent(r.Context(), a.ID, m.ID, r.PathValue("attempt_id")); err != nil {
		return err
	}
	s.expunged()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// messageEndpointOut is an endpoint a message was sent to, with the delivery's state.
type messageEndpointOut struct {
	endpointOut
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
}

func nextAttempt(d *hookd.Delivery) *time.Time {
	if d.Status != hookd.StatusPending && d.Status != hookd.StatusSending {
		return nil
	}
	t := d.NextAttempt.UTC()
	return &t
}

// listDestinations lists the endpoints a message was sent to.
func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	a, m, err := s.message(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	dlvs, err := s.store.MessageDeliveries(ctx, a.ID, m.ID, probe(p))
	if err != nil {
		return err
	}
	eps := map[string]*hookd.Endpoint{}
	for _, d := range dlvs {
		e, err := s.store.Endpoint(ctx, a.ID, d.EndpointID)
		if err != nil && !hookd.IsNotFound(err) {
			return err
		}
		eps[d.EndpointID] = e
	}
	out := paginate(p, dlvs, func(d *hookd.Delivery) string { return d.EndpointID }, func(d *hookd.Delivery) *messageEndpointOut {
		e := eps[d.EndpointID]
		if e == nil {
			return nil // the endpoint was deleted since
		}
		eo := epOut(e)
		return &messageEndpointOut{endpointOut: eo, Status: int(d.Status), StatusText: d.Status.String(), NextAttempt: nextAttempt(d)}
	})
	out.Data = dropNil(out.Data)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func dropNil[T any](xs []*T) []*T {
	out := xs[:0]
	for _, x := range xs {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// endpointMessageOut is a message sent to an endpoint, with the delivery's state.
type endpointMessageOut struct {
	messageOut
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
}

// listAttemptedMessages lists the messages sent to an endpoint.
func (s *Server) listAttemptedMessages(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	var f hookd.DeliveryFilter
	if f.Status, err = queryStatus(r); err != nil {
		return err
	}
	if f.EventTypes, err = queryList(r, "event_types"); err != nil {
		return err
	}
	f.Channel = r.URL.Query().Get("channel")
	if f.Before, err = queryTime(r, "before"); err != nil {
		return err
	}
	if f.After, err = queryTime(r, "after"); err != nil {
		return err
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	conv := msgOut(withContent)
	out, err := boundedPage(p, func(d *hookd.Delivery) string { return d.MsgID },
		func(d *hookd.Delivery) int { return messageBytes(d.Message) },
		func(q hookd.Page) ([]*hookd.Delivery, error) {
			return s.store.EndpointDeliveries(r.Context(), a.ID, e.ID, f, q)
		},
		func(d *hookd.Delivery) endpointMessageOut {
			m := d.Message
			if m == nil {
				m = &hookd.Message{ID: d.MsgID}
			}
			return endpointMessageOut{messageOut: conv(m), Status: int(d.Status), StatusText: d.Status.String(), NextAttempt: nextAttempt(d)}
		})
	if err != nil {
		return err
	}
	writeList(w, out)
	return nil
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

// searchMessageOut is a message found by the operator's search: the message with the
// application it belongs to.
type searchMessageOut struct {
	messageOut
	AppID string `json:"appId"`
}

// searchAttemptOut is an attempt found by the operator's search.
type searchAttemptOut struct {
	attemptOut
	AppID string `json:"appId"`
}

// searchQuery holds the query parameters that the message and attempt searches
// share.
type searchQuery struct {
	page          hookd.Page
	withContent   bool
	appID         string
	status        *hookd.Status
	before, after time.Time
}

// parseSearch reads the shared query parameters: the page, with_content, status,
// before, after and appId (an ID or uid, resolved to the application's ID; "" when it
// is not given).
func (s *Server) parseSearch(r *http.Request) (searchQuery, error) {
	var q searchQuery
	var err error
	if q.page, err = page(r); err != nil {
		return q, err
	}
	if q.withContent, err = queryBool(r, "with_content", true); err != nil {
		return q, err
	}
	if q.status, err = queryStatus(r); err != nil {
		return q, err
	}
	if q.before, err = queryTime(r, "before"); err != nil {
		return q, err
	}
	if q.after, err = queryTime(r, "after"); err != nil {
		return q, err
	}
	if v := r.URL.Query().Get("appId"); v != "" {
		a, err := s.store.App(r.Context(), v)
		if err != nil {
			return q, err
		}
		q.appID = a.ID
	}
	return q, nil
}

// searchMessages is hookd's operator search of messages across applications
// (hookd.SearchStore.SearchMessages).
func (s *Server) searchMessages(w http.ResponseWriter, r *http.Request) error {
	sq, err := s.parseSearch(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := hookd.MessageSearch{AppID: sq.appID, EventID: q.Get("eventId"), Tag: q.Get("tag"), Channel: q.Get("channel"),
		Status: sq.status, Before: sq.before, After: sq.after}
	if f.EventTypes, err = queryList(r, "eventType"); err != nil {
		return err
	}
	conv := msgOut(sq.withContent)
	out, err := boundedPage(sq.page, func(m *hookd.Message) string { return m.ID }, messageBytes,
		func(q hookd.Page) ([]*hookd.Message, error) { return s.store.SearchMessages(r.Context(), f, q) },
		func(m *hookd.Message) searchMessageOut { return searchMessageOut{messageOut: conv(m), AppID: m.AppID} })
	if err != nil {
		return err
	}
	writeList(w, out)
	return nil
}

// searchAttempts is hookd's operator search of attempts across applications
// (hookd.SearchStore.SearchAttempts).
func (s *Server) searchAttempts(w http.ResponseWriter, r *http.Request) error {
	sq, err := s.parseSearch(r)
	if err != nil {
		return err
	}
	f := hookd.AttemptSearch{AppID: sq.appID, EndpointID: r.URL.Query().Get("endpointId"),
		Status: sq.status, Before: sq.before, After: sq.after}
	if v := r.URL.Query().Get("statusCode"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 599 {
			return invalidQuery("statusCode", "statusCode must be an HTTP status code from 100 to 599, or 0 for attempts that got no response")
		}
		f.StatusCode = &n
	}
	ats, err := s.store.SearchAttempts(r.Context(), f, probe(sq.page))
	if err != nil {
		return err
	}
	conv := atOut(sq.withContent)
	writeList(w, paginate(sq.page, ats, func(a *hookd.Attempt) string { return a.ID },
		func(a *hookd.Attempt) searchAttemptOut { return searchAttemptOut{attemptOut: conv(a), AppID: a.AppID} }))
	return nil
}

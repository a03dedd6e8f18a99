package api

import (
	"net/http"
	"strconv"

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

// searchApp resolves the appId query parameter (an ID or uid) to an application ID;
// "" when it is not given.
func (s *Server) searchApp(r *http.Request) (string, error) {
	v := r.URL.Query().Get("appId")
	if v == "" {
		return "", nil
	}
	a, err := s.store.App(r.Context(), v)
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

// searchMessages is hookd's operator search of messages across applications
// (hookd.SearchStore.SearchMessages).
func (s *Server) searchMessages(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := hookd.MessageSearch{EventID: q.Get("eventId"), Tag: q.Get("tag"), Channel: q.Get("channel")}
	if f.EventTypes, err = queryList(r, "eventType"); err != nil {
		return err
	}
	if f.Status, err = queryStatus(r); err != nil {
		return err
	}
	if f.Before, err = queryTime(r, "before"); err != nil {
		return err
	}
	if f.After, err = queryTime(r, "after"); err != nil {
		return err
	}
	if f.AppID, err = s.searchApp(r); err != nil {
		return err
	}
	conv := msgOut(withContent)
	out, err := boundedPage(p, func(m *hookd.Message) string { return m.ID }, messageBytes,
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
	p, err := page(r)
	if err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := hookd.AttemptSearch{EndpointID: q.Get("endpointId")}
	if v := q.Get("statusCode"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 599 {
			return invalidQuery("statusCode", "statusCode must be an HTTP status code from 100 to 599, or 0 for attempts that got no response")
		}
		f.StatusCode = &n
	}
	if f.Status, err = queryStatus(r); err != nil {
		return err
	}
	if f.Before, err = queryTime(r, "before"); err != nil {
		return err
	}
	if f.After, err = queryTime(r, "after"); err != nil {
		return err
	}
	if f.AppID, err = s.searchApp(r); err != nil {
		return err
	}
	ats, err := s.store.SearchAttempts(r.Context(), f, probe(p))
	if err != nil {
		return err
	}
	conv := atOut(withContent)
	writeList(w, paginate(p, ats, func(a *hookd.Attempt) string { return a.ID },
		func(a *hookd.Attempt) searchAttemptOut { return searchAttemptOut{attemptOut: conv(a), AppID: a.AppID} }))
	return nil
}

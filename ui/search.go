package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// searchForm is the cross-application search form, as given.
type searchForm struct {
	// Kind is "msg" (messages) or "attempt".
	Kind                                                  string
	App, EventType, EventID, Tag, Channel, Status, Before string
	After, StatusCode, Endpoint, Iterator                 string
}

// query is the form as a query string, with the iterator given; empty fields are left out.
func (f searchForm) query(iterator string) string {
	v := url.Values{}
	for k, s := range map[string]string{"kind": f.Kind, "app": f.App, "event_type": f.EventType, "event_id": f.EventID,
		"tag": f.Tag, "channel": f.Channel, "status": f.Status, "after": f.After, "before": f.Before,
		"status_code": f.StatusCode, "endpoint": f.Endpoint, "iterator": iterator} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// searchPage is the operator's search across applications: messages by event type,
// eventId, tag, channel, delivery status and time, or attempts by status code,
// status, endpoint and time. It runs the store queries of the API's
// GET /api/v1/search/msg and /search/attempt (hookd.SearchStore), which read an index
// in ID order, so a page answers in bounded time on a large store.
//
// The overview's quick search (an application and a message ID or eventId) goes
// straight to that message's application.
func (h *Handler) searchPage(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	f := searchForm{Kind: q.Get("kind"), App: strings.TrimSpace(q.Get("app")), EventType: strings.TrimSpace(q.Get("event_type")),
		EventID: strings.TrimSpace(q.Get("event_id")), Tag: q.Get("tag"), Channel: q.Get("channel"), Status: q.Get("status"),
		After: q.Get("after"), Before: q.Get("before"), StatusCode: strings.TrimSpace(q.Get("status_code")),
		Endpoint: strings.TrimSpace(q.Get("endpoint")), Iterator: q.Get("iterator")}
	if f.Kind == "" && f.App != "" {
		return h.searchRedirect(w, r, s)
	}
	if f.Kind != "attempt" {
		f.Kind = "msg"
	}
	v := adminView(s, "search", "Search", nil)
	data := struct {
		Form      searchForm
		Searched  bool
		Messages  []*hookd.Message
		Attempts  []*hookd.Attempt
		Next      string
		Statuses  []string
		AttemptSt []string
	}{Form: f, Statuses: []string{"success", "pending", "sending", "fail"}, AttemptSt: []string{"success", "fail"}}
	// A search runs once the form was sent (any field, or kind, in the query).
	data.Searched = len(q) > 0
	if data.Searched {
		var next string
		var err error
		if f.Kind == "attempt" {
			data.Attempts, next, err = h.searchAttempts(r, f)
		} else {
			data.Messages, next, err = h.searchAllMessages(r, f)
		}
		switch {
		case err == nil:
			if next != "" {
				data.Next = "/ui/search?" + f.query(next)
			}
		case hookd.ErrorCode(err) == hookd.EINVALID:
			v.Error = hookd.ErrorMessage(err)
		default:
			return err
		}
	}
	v.Data = data
	h.render(w, r, http.StatusOK, "search", v)
	return nil
}

// times parses the form's time range.
func (f searchForm) times() (after, before time.Time, err error) {
	if after, err = parseTime("after", f.After); err != nil {
		return
	}
	before, err = parseTime("before", f.Before)
	return
}

// searchApp resolves the form's application (an ID or a uid); "" searches them all.
func (h *Handler) searchApp(r *http.Request, f searchForm) (string, error) {
	if f.App == "" {
		return "", nil
	}
	a, err := h.cfg.Store.App(r.Context(), f.App)
	if hookd.IsNotFound(err) {
		return "", hookd.Invalid("app", "no application has the ID or uid %q", f.App)
	}
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

func (h *Handler) searchAllMessages(r *http.Request, f searchForm) ([]*hookd.Message, string, error) {
	appID, err := h.searchApp(r, f)
	if err != nil {
		return nil, "", err
	}
	ms := hookd.MessageSearch{AppID: appID, EventID: f.EventID, Tag: f.Tag, Channel: f.Channel}
	if f.EventType != "" {
		ms.EventTypes = []string{f.EventType}
	}
	if f.Status != "" {
		st, ok := parseStatus(f.Status)
		if !ok {
			return nil, "", hookd.Invalid("status", "status must be success, pending, sending or fail")
		}
		ms.Status = &st
	}
	if ms.After, ms.Before, err = f.times(); err != nil {
		return nil, "", err
	}
	msgs, err := h.cfg.Store.SearchMessages(r.Context(), ms, hookd.Page{Limit: pageSize, Iterator: f.Iterator})
	if err != nil {
		return nil, "", err
	}
	return msgs, nextIterator(msgs, pageSize, func(m *hookd.Message) string { return m.ID }), nil
}

func (h *Handler) searchAttempts(r *http.Request, f searchForm) ([]*hookd.Attempt, string, error) {
	appID, err := h.searchApp(r, f)
	if err != nil {
		return nil, "", err
	}
	as := hookd.AttemptSearch{AppID: appID, EndpointID: f.Endpoint}
	if f.StatusCode != "" {
		n, err := strconv.Atoi(f.StatusCode)
		if err != nil || n < 0 || n > 599 {
			return nil, "", hookd.Invalid("status_code", "status code must be an HTTP status from 100 to 599, or 0 for attempts that got no response")
		}
		as.StatusCode = &n
	}
	if f.Status != "" {
		st, ok := parseStatus(f.Status)
		if !ok || (st != hookd.StatusSuccess && st != hookd.StatusFail) {
			return nil, "", hookd.Invalid("status", "an attempt's status is success or fail")
		}
		as.Status = &st
	}
	if as.After, as.Before, err = f.times(); err != nil {
		return nil, "", err
	}
	ats, err := h.cfg.Store.SearchAttempts(r.Context(), as, hookd.Page{Limit: pageSize, Iterator: f.Iterator})
	if err != nil {
		return nil, "", err
	}
	return ats, nextIterator(ats, pageSize, func(a *hookd.Attempt) string { return a.ID }), nil
}

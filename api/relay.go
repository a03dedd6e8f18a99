package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
)

// Relay endpoints are a hookd extension: `hookd listen --forward-to` makes one with
// createRelay, long-polls pollRelay for its deliveries and posts each local answer to
// answerRelay. They sit under /api/v1/app/{app_id}, so a token that may act on the
// application may use them.

// relayIn is the body of POST …/relay.
type relayIn struct {
	UID         *string  `json:"uid"`
	Description *string  `json:"description"`
	FilterTypes []string `json:"filterTypes"`
	// RetrySchedule overrides relayRetrySchedule for a new relay endpoint.
	RetrySchedule *string `json:"retrySchedule"`
}

// relayRetrySchedule is a new relay endpoint's retry schedule unless the request
// gives one: a listen that was down a while (restarted, laptop asleep) gets what
// waited within minutes rather than the hours of the default schedule, and retries
// go on for about eight hours.
const relayRetrySchedule = "exponential:5s,5m,100"

// Long-poll bounds: how long a poll may wait and how many requests it returns.
const (
	defaultRelayWait  = 25 * time.Second
	maxRelayWait      = 55 * time.Second
	defaultRelayBatch = 10
	maxRelayBatch     = 100
)

// createRelay returns the application's relay endpoint with the uid, made if missing
// (201) or brought up to date and enabled again (200): a listen restarted after a
// crash takes up the same endpoint and what waited for it.
func (s *Server) createRelay(w http.ResponseWriter, r *http.Request) error {
	var in relayIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.UID == nil || *in.UID == "" {
		return invalid("uid", "uid is required: it names the relay endpoint")
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	e := &hookd.Endpoint{}
	if err := e.SetUID(in.UID); err != nil {
		return err
	}
	if err := e.SetFilterTypes(in.FilterTypes); err != nil {
		return err
	}
	e.RetrySchedule = relayRetrySchedule
	if in.RetrySchedule != nil {
		if err := checkRetrySchedule("retrySchedule", *in.RetrySchedule); err != nil {
			return err
		}
		e.RetrySchedule = *in.RetrySchedule
	}
	desc := "hookd listen relay"
	if in.Description != nil {
		desc = *in.Description
	}
	now := s.now()
	old, err := s.store.Endpoint(r.Context(), a.ID, *in.UID)
	switch {
	case err == nil && !old.IsRelay():
		return hookd.Errorf(hookd.ECONFLICT, "endpoint %q exists and is not a relay endpoint", *in.UID)
	case err == nil:
		old.FilterTypes, old.Description, old.UpdatedAt = e.FilterTypes, desc, now
		if in.RetrySchedule != nil {
			old.RetrySchedule = e.RetrySchedule
		}
		old.SetDisabled(false, now)
		if err := s.store.UpdateEndpoint(r.Context(), old); err != nil {
			return err
		}
		s.emitEndpoint(r, "endpoint.updated", a, old)
		writeJSON(w, http.StatusOK, epOut(old))
		return nil
	case hookd.ErrorCode(err) != hookd.ENOTFOUND:
		return err
	}
	e.ID, e.AppID, e.URL, e.Description = s.cfg.IDs.New(hookd.PrefixEndpoint), a.ID, hookd.RelayScheme+"://"+e.UID, desc
	e.CreatedAt, e.UpdatedAt = now, now
	p, err := webhook.LookupProfile("standard")
	if err != nil {
		return err
	}
	if err := s.setNewSecret(e, p, nil); err != nil {
		return err
	}
	return s.insertEndpoint(w, r, a, e)
}

// relayEndpoint loads the relay endpoint the path names.
func (s *Server) relayEndpoint(r *http.Request) (*hookd.Endpoint, error) {
	if s.cfg.Relay == nil {
		return nil, hookd.Errorf(hookd.ENOTFOUND, "this server has no relay")
	}
	_, e, err := s.endpoint(r)
	if err != nil {
		return nil, err
	}
	if !e.IsRelay() {
		return nil, hookd.Errorf(hookd.ECONFLICT, "endpoint %s is not a relay endpoint", e.ID)
	}
	return e, nil
}

// relayRequestOut is one delivery handed to a listener.
type relayRequestOut struct {
	ID        string              `json:"id"`
	MsgID     string              `json:"msgId"`
	EventType string              `json:"eventType"`
	Path      string              `json:"path,omitempty"`
	Headers   map[string][]string `json:"headers"`
	Body      []byte              `json:"body"` // base64
}

// pollRelay waits up to ?wait= seconds (default 25, at most 55) for deliveries to the
// relay endpoint and returns up to ?limit= of them (default 10, at most 100).
func (s *Server) pollRelay(w http.ResponseWriter, r *http.Request) error {
	wait, limit := defaultRelayWait, defaultRelayBatch
	q := r.URL.Query()
	if v := q.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidQuery("wait", "wait must be a number of seconds")
		}
		wait = min(time.Duration(n)*time.Second, maxRelayWait)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalidQuery("limit", "limit must be a positive integer")
		}
		limit = min(n, maxRelayBatch)
	}
	e, err := s.relayEndpoint(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	reqs := s.cfg.Relay.Poll(ctx, e.AppID, e.ID, limit)
	out := struct {
		Data []relayRequestOut `json:"data"`
	}{Data: make([]relayRequestOut, 0, len(reqs))}
	for _, rq := range reqs {
		out.Data = append(out.Data, relayRequestOut{ID: rq.ID, MsgID: rq.MsgID, EventType: rq.EventType,
			Path: rq.Path, Headers: rq.Header, Body: rq.Body})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// relayAnswerIn is the body of POST …/answer: the local handler's answer to one
// relayed request, or why there is none.
type relayAnswerIn struct {
	ID      *string             `json:"id"`
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers"`
	Body    []byte              `json:"body"` // base64
	Error   string              `json:"error"`
}

func (s *Server) answerRelay(w http.ResponseWriter, r *http.Request) error {
	var in relayAnswerIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ID == nil || *in.ID == "" {
		return invalid("id", "id is required: the relayed request's id")
	}
	if in.Error == "" && (in.Status < 100 || in.Status > 999) {
		return invalid("status", "status must be an HTTP status code, or error must say why there is none")
	}
	e, err := s.relayEndpoint(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Relay.Answer(e.AppID, e.ID, *in.ID, &hookd.RelayResponse{
		Status: in.Status, Header: in.Headers, Body: in.Body, Error: in.Error,
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package api

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/task"
)

// maxBulkExpunge is how many messages one bulk-expunge request may name.
const maxBulkExpunge = 1000

// expunged tells the server that content was erased, so that it reclaims the space
// the content took (hookd.MessageStore.ReclaimExpunged) in the background.
func (s *Server) expunged() {
	if s.cfg.ExpungedFunc != nil {
		s.cfg.ExpungedFunc()
	}
}

// bulkExpungeIn is Svix's BulkExpungeContentsIn.
type bulkExpungeIn struct {
	IDs []string `json:"ids"`
}

// bulkExpungeOut is Svix's BulkExpungeContentsOut: "expunged" or "not-found" per
// ID or eventId asked for.
type bulkExpungeOut struct {
	Results map[string]string `json:"results"`
}

// bulkExpunge erases the contents of the messages named by ID or eventId, at once.
func (s *Server) bulkExpunge(w http.ResponseWriter, r *http.Request) error {
	var in bulkExpungeIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if len(in.IDs) > maxBulkExpunge {
		return invalid("ids", "ids may hold at most 1000 message IDs or eventIds")
	}
	seen := map[string]bool{}
	for _, id := range in.IDs {
		if err := hookd.CheckName("ids", id, 256); err != nil {
			return err
		}
		if seen[id] {
			return invalid("ids", "ids must be unique: "+id+" is there twice")
		}
		seen[id] = true
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	out := bulkExpungeOut{Results: map[string]string{}}
	byMsg := map[string][]string{}
	var msgIDs []string
	for _, id := range in.IDs {
		out.Results[id] = "not-found"
		m, err := s.store.Message(r.Context(), a.ID, id)
		if hookd.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if byMsg[m.ID] == nil {
			msgIDs = append(msgIDs, m.ID)
		}
		byMsg[m.ID] = append(byMsg[m.ID], id)
	}
	if len(msgIDs) > 0 {
		found, err := s.store.ExpungeMessageContents(r.Context(), a.ID, msgIDs)
		if err != nil {
			return err
		}
		for _, m := range found {
			for _, id := range byMsg[m] {
				out.Results[id] = "expunged"
			}
		}
		s.expunged()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// expungeAllIn narrows an expunge-all-contents task (a hookd extension: the Svix
// operation takes no body and erases every message of the application). Before and
// after are exclusive bounds on the messages' timestamps.
type expungeAllIn struct {
	Before     *time.Time `json:"before"`
	After      *time.Time `json:"after"`
	EventTypes []string   `json:"eventTypes"`
	// AppIDs limits the operator's expunge across applications (IDs or uids).
	AppIDs []string `json:"appIds"`
	// Compact rewrites the tables once the contents are erased, so that no free
	// space in them keeps erased bytes (PostgreSQL: VACUUM FULL, which locks them).
	Compact bool `json:"compact"`
}

// decodeOptional decodes the request body into dst unless the body is empty.
func decodeOptional(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return decode(r, dst) // reports the read error
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(r, dst)
}

// params checks in and returns the task's parameters. A task without before erases the
// messages accepted until it was asked for, not those that come while it runs.
func (in *expungeAllIn) params(now time.Time) (task.Params, error) {
	var p task.Params
	if err := hookd.CheckNames("eventTypes", in.EventTypes, 256); err != nil {
		return p, err
	}
	p.EventTypes = in.EventTypes
	p.Compact = in.Compact
	until := now
	if in.Before != nil {
		until = *in.Before
	}
	p.Until = &until
	if in.After != nil {
		p.Since = *in.After
		if !p.Since.Before(until) {
			return p, invalid("after", "after must be earlier than before")
		}
	}
	return p, nil
}

// expungeAllContents starts an application.purge_content task that erases the
// contents of the application's messages (narrowed by the optional body).
func (s *Server) expungeAllContents(w http.ResponseWriter, r *http.Request) error {
	var in expungeAllIn
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	if len(in.AppIDs) > 0 {
		return invalid("appIds", "appIds is for POST /api/v1/msg/expunge-all-contents: this path names its application")
	}
	p, err := in.params(s.now())
	if err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	t, err := s.createTask(r, hookd.TaskPurgeContent, a.ID, "", p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, tOut(t).taskStartOut)
	return nil
}

// expungeAllContentsEverywhere is the operator's expunge across applications (every
// one, or those of appIds), as one application.purge_content task.
func (s *Server) expungeAllContentsEverywhere(w http.ResponseWriter, r *http.Request) error {
	var in expungeAllIn
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	p, err := in.params(s.now())
	if err != nil {
		return err
	}
	if len(in.AppIDs) > maxQueryList {
		return invalid("appIds", "appIds may hold at most 1000 applications")
	}
	for _, id := range in.AppIDs {
		a, err := s.store.App(r.Context(), id)
		if hookd.IsNotFound(err) {
			return invalid("appIds", "no application "+id)
		}
		if err != nil {
			return err
		}
		p.AppIDs = append(p.AppIDs, a.ID)
	}
	t, err := s.createTask(r, hookd.TaskPurgeContent, "", "", p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, tOut(t).taskStartOut)
	return nil
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd"
)

// applyFIFO copies an endpoint's fifo and fifoOnExhausted onto e: those the body
// leaves out keep the endpoint's values (a new endpoint's defaults: not ordered,
// "skip"), and null resets one to its default.
func applyFIFO(e *hookd.Endpoint, fifo optional[bool], onExhausted optional[string], isNew bool) error {
	on, policy := e.FIFO, e.FIFOOnExhausted
	if isNew {
		on, policy = false, ""
	}
	if fifo.Set {
		on = fifo.Value // null: false
	}
	if onExhausted.Set {
		policy = onExhausted.Value // null: ""
	}
	return e.SetFIFO(on, policy)
}

// fifoReleaseIn is the body of POST …/endpoint/{endpoint_id}/fifo/release.
type fifoReleaseIn struct {
	// OrderingKey, if set, releases only that key ("" is the key of messages sent
	// without one); without it every halted key of the endpoint is released.
	OrderingKey *string `json:"orderingKey"`
}

// fifoReleaseOut answers a release.
type fifoReleaseOut struct {
	Released int `json:"released"`
}

// releaseFIFO lets the ordering keys of a FIFO endpoint that stops on exhaustion go on
// past their failed deliveries: the failed ones stay failed (they can still be resent)
// and the next message of each released key is sent.
func (s *Server) releaseFIFO(w http.ResponseWriter, r *http.Request) error {
	var in fifoReleaseIn
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	if in.OrderingKey != nil {
		if err := hookd.CheckOrderingKey("orderingKey", *in.OrderingKey); err != nil {
			return err
		}
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	n, err := s.store.ReleaseFIFO(r.Context(), a.ID, e.ID, in.OrderingKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fifoReleaseOut{Released: n})
	return nil
}

// fifoStateOut answers GET …/endpoint/{endpoint_id}/fifo.
type fifoStateOut struct {
	FIFO            bool          `json:"fifo"`
	FIFOOnExhausted string        `json:"fifoOnExhausted"`
	Pending         int           `json:"pending"`
	Sending         int           `json:"sending"`
	Keys            int           `json:"keys"`
	HaltedCount     int           `json:"haltedCount"`
	Halted          []fifoHaltOut `json:"halted"`
}

// fifoHaltOut is a halted ordering key.
type fifoHaltOut struct {
	OrderingKey            string    `json:"orderingKey"`
	MsgID                  string    `json:"msgId"`
	Since                  time.Time `json:"since"`
	LastAttemptID          *string   `json:"lastAttemptId"`
	LastResponseStatusCode *int      `json:"lastResponseStatusCode"`
	LastError              *string   `json:"lastError"`
}

// fifoStateView is the answer for the endpoint e and its FIFO state st.
func fifoStateView(e *hookd.Endpoint, st *hookd.FIFOState) fifoStateOut {
	policy := e.FIFOOnExhausted
	if policy == "" {
		policy = hookd.FIFOSkip
	}
	out := fifoStateOut{FIFO: e.FIFO, FIFOOnExhausted: policy, Pending: st.Pending, Sending: st.Sending,
		Keys: st.Keys, HaltedCount: st.HeldCount, Halted: make([]fifoHaltOut, 0, len(st.Halted))}
	for _, h := range st.Halted {
		v := fifoHaltOut{OrderingKey: h.OrderingKey, MsgID: h.MsgID, Since: h.Since.UTC()}
		if a := h.LastAttempt; a != nil {
			id, code, msg := a.ID, a.ResponseStatusCode, a.Error
			v.LastAttemptID, v.LastResponseStatusCode, v.LastError = &id, &code, &msg
		}
		out.Halted = append(out.Halted, v)
	}
	return out
}

// getEndpointFIFO answers an endpoint's FIFO state: its setting, how many ordered
// deliveries wait and are out, and its halted keys (up to limit, 50 by default).
func (s *Server) getEndpointFIFO(w http.ResponseWriter, r *http.Request) error {
	limit := defaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalidQuery("limit", "limit must be a positive integer")
		}
		limit = min(n, maxLimit)
	}
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	st, err := s.store.FIFOState(r.Context(), a.ID, e.ID, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fifoStateView(e, st))
	return nil
}

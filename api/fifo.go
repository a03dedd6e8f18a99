package api

import (
	"net/http"

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

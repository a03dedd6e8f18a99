package api

import (
	"net/http"

	"github.com/hookd/hookd"
)

// onOperational serves an endpoint operation on the operational application, the
// one that carries hookd's operational webhooks: /api/v1/operational-webhook/endpoint…
// is the endpoint API of that application, for admin keys only. It is created on
// first use; the dispatcher sends every operational event to those of its endpoints
// that are enabled and whose eventTypes take it.
func onOperational(h func(*Server, http.ResponseWriter, *http.Request) error) func(*Server, http.ResponseWriter, *http.Request) error {
	return func(s *Server, w http.ResponseWriter, r *http.Request) error {
		a, err := hookd.OperationalApp(r.Context(), s.store, s.cfg.IDs, s.now())
		if err != nil {
			return err
		}
		r.SetPathValue("app_id", a.ID)
		return h(s, w, r)
	}
}

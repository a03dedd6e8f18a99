package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// applicationIn is the body of POST /app and PUT /app/{app_id}.
type applicationIn struct {
	Name         *string           `json:"name"`
	UID          *string           `json:"uid"`
	RateLimit    *int32            `json:"rateLimit"`
	ThrottleRate *int32            `json:"throttleRate"` // older spelling of rateLimit
	Metadata     map[string]string `json:"metadata"`
	// RetrySchedule and RequireHTTPS are hookd extensions.
	RetrySchedule *string `json:"retrySchedule"`
	RequireHTTPS  *bool   `json:"requireHttps"`
}

// applicationPatch is the body of PATCH /app/{app_id}.
type applicationPatch struct {
	Name          optional[string]            `json:"name"`
	UID           optional[string]            `json:"uid"`
	RateLimit     optional[int32]             `json:"rateLimit"`
	ThrottleRate  optional[int32]             `json:"throttleRate"`
	Metadata      optional[map[string]string] `json:"metadata"`
	RetrySchedule optional[string]            `json:"retrySchedule"`
	RequireHTTPS  optional[bool]              `json:"requireHttps"`
}

// applicationOut is an application as the API shows it: the rate limit under both its
// Svix names (see endpointOut), hookd's retrySchedule and requireHttps extensions always.
type applicationOut struct {
	ID            string            `json:"id"`
	UID           string            `json:"uid,omitempty"`
	Name          string            `json:"name"`
	ThrottleRate  *int32            `json:"throttleRate,omitempty"`
	RateLimit     *int32            `json:"rateLimit,omitempty"`
	Metadata      map[string]string `json:"metadata"`
	RetrySchedule *string           `json:"retrySchedule"` // null: the server's
	RequireHTTPS  bool              `json:"requireHttps"`
	CreatedAt     time.Time         `json:"createdAt"`
	UpdatedAt     time.Time         `json:"updatedAt"`
}

func appOut(a *hookd.Application) applicationOut {
	out := applicationOut{
		ID: a.ID, UID: a.UID, Name: a.Name, Metadata: a.Metadata,
		RequireHTTPS: a.RequireHTTPS, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
	}
	if a.RetrySchedule != "" {
		out.RetrySchedule = &a.RetrySchedule
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if a.RateLimit > 0 {
		rl := int32(a.RateLimit)
		out.RateLimit, out.ThrottleRate = &rl, &rl
	}
	return out
}

// apply validates in and copies it onto a.
func (in *applicationIn) apply(a *hookd.Application) error {
	if in.Name == nil || *in.Name == "" {
		return invalid("name", "name is required")
	}
	a.Name = *in.Name
	wasOperational := a.UID == hookd.OperationalAppUID
	a.UID = ""
	if in.UID != nil {
		if err := hookd.CheckUID("uid", *in.UID, hookd.PrefixApp); err != nil {
			return err
		}
		if (*in.UID == hookd.OperationalAppUID) != wasOperational {
			return invalid("uid", "uid "+hookd.OperationalAppUID+" is reserved for hookd's operational webhooks")
		}
		a.UID = *in.UID
	} else if wasOperational {
		return invalid("uid", "uid "+hookd.OperationalAppUID+" is reserved for hookd's operational webhooks")
	}
	rl := in.RateLimit
	if rl == nil {
		rl = in.ThrottleRate
	}
	a.RateLimit = 0
	if rl != nil {
		if err := hookd.CheckRateLimit("rateLimit", int64(*rl)); err != nil {
			return err
		}
		a.RateLimit = int(*rl)
	}
	if err := hookd.CheckMetadata("metadata", in.Metadata); err != nil {
		return err
	}
	a.Metadata = in.Metadata
	a.RetrySchedule = ""
	if in.RetrySchedule != nil {
		if err := hookd.CheckRetrySchedule("retrySchedule", *in.RetrySchedule); err != nil {
			return err
		}
		a.RetrySchedule = *in.RetrySchedule
	}
	if in.RequireHTTPS != nil { // left out (as the Svix SDKs do): kept
		a.RequireHTTPS = *in.RequireHTTPS
	}
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	withEndpoints, err := queryBool(r, "exclude_apps_with_no_endpoints", false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	want := probe(p)
	// The operational application is left out of the list, and with
	// exclude_apps_with_no_endpoints so is every application without an endpoint: the
	// store is read page by page until the answer's page is full or the store is done.
	var apps []*hookd.Application
	q := want
	for len(apps) < want.Limit {
		rows, err := s.store.Apps(ctx, q)
		if err != nil {
			return err
		}
		for _, a := range rows {
			if a.UID == hookd.OperationalAppUID || len(apps) == want.Limit {
				continue
			}
			if withEndpoints {
				eps, err := s.store.Endpoints(ctx, a.ID, hookd.Page{Limit: 1})
				if err != nil {
					return err
				}
				if len(eps) == 0 {
					continue
				}
			}
			apps = append(apps, a)
		}
		if len(rows) < q.Limit {
			break
		}
		q.Iterator = rows[len(rows)-1].ID
	}
	writeJSON(w, http.StatusOK, paginate(p, apps, func(a *hookd.Application) string { return a.ID }, appOut))
	return nil
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	var in applicationIn
	if err := decode(r, &in); err != nil {
		return err
	}
	getIfExists, err := queryBool(r, "get_if_exists", false)
	if err != nil {
		return err
	}
	now := s.now()
	a := &hookd.Application{ID: s.cfg.IDs.New(hookd.PrefixApp), CreatedAt: now, UpdatedAt: now}
	if err := in.apply(a); err != nil {
		return err
	}
	ctx := r.Context()
	if getIfExists && a.UID != "" {
		if prev, err := s.store.App(ctx, a.UID); err == nil {
			writeJSON(w, http.StatusOK, appOut(prev))
			return nil
		} else if !hookd.IsNotFound(err) {
			return err
		}
	}
	if err := s.store.CreateApp(ctx, a); err != nil {
		if getIfExists && hookd.IsConflict(err) {
			if prev, err := s.store.App(ctx, a.UID); err == nil {
				writeJSON(w, http.StatusOK, appOut(prev))
				return nil
			}
		}
		return err
	}
	writeJSON(w, http.StatusCreated, appOut(a))
	return nil
}

// app loads the application named by the path's app_id (an ID or a uid).
func (s *Server) app(r *http.Request) (*hookd.Application, error) {
	a, err := s.store.App(r.Context(), r.PathValue("app_id"))
	if err != nil {
		return nil, err
	}
	if err := checkAppScope(r, a); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appOut(a))
	return nil
}

// updateApp replaces an application, creating it (with the path's app_id as its uid)
// if it does not exist, as Svix does.
func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) error {
	var in applicationIn
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	a, err := s.app(r)
	if hookd.IsNotFound(err) {
		if in.UID == nil {
			uid := r.PathValue("app_id")
			in.UID = &uid
		}
		a = &hookd.Application{ID: s.cfg.IDs.New(hookd.PrefixApp), CreatedAt: now, UpdatedAt: now}
		if err := in.apply(a); err != nil {
			return err
		}
		if err := s.store.CreateApp(ctx, a); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, appOut(a))
		return nil
	}
	if err != nil {
		return err
	}
	if err := in.apply(a); err != nil {
		return err
	}
	a.UpdatedAt = now
	if err := s.store.UpdateApp(ctx, a); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appOut(a))
	return nil
}

func (s *Server) patchApp(w http.ResponseWriter, r *http.Request) error {
	var in applicationPatch
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	if in.Name.Set {
		if in.Name.Null || in.Name.Value == "" {
			return invalid("name", "name must not be empty")
		}
		a.Name = in.Name.Value
	}
	if in.UID.Set {
		a.UID = ""
		if !in.UID.Null {
			if err := hookd.CheckUID("uid", in.UID.Value, hookd.PrefixApp); err != nil {
				return err
			}
			a.UID = in.UID.Value
		}
	}
	for _, rl := range []optional[int32]{in.ThrottleRate, in.RateLimit} {
		if rl.Set {
			if err := hookd.CheckRateLimit("rateLimit", int64(rl.Value)); err != nil {
				return err
			}
			a.RateLimit = int(rl.Value)
		}
	}
	if in.Metadata.Set {
		if err := hookd.CheckMetadata("metadata", in.Metadata.Value); err != nil {
			return err
		}
		a.Metadata = in.Metadata.Value
	}
	if in.RetrySchedule.Set {
		if err := hookd.CheckRetrySchedule("retrySchedule", in.RetrySchedule.Value); err != nil {
			return err
		}
		a.RetrySchedule = in.RetrySchedule.Value
	}
	if in.RequireHTTPS.Set {
		a.RequireHTTPS = in.RequireHTTPS.Value
	}
	a.UpdatedAt = s.now()
	if err := s.store.UpdateApp(r.Context(), a); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appOut(a))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.app(r)
	if err != nil {
		return err
	}
	if a.UID == hookd.OperationalAppUID {
		return hookd.Errorf(hookd.ECONFLICT, "application %q carries hookd's operational webhooks (--operational-webhook-url) and cannot be deleted", a.UID)
	}
	if err := s.store.DeleteApp(r.Context(), a.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

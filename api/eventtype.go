package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// eventTypeIn is the body of POST /event-type and PUT /event-type/{event_type_name}.
type eventTypeIn struct {
	Name        *string                    `json:"name"`
	Description *string                    `json:"description"`
	Archived    *bool                      `json:"archived"`
	Deprecated  *bool                      `json:"deprecated"`
	FeatureFlag *string                    `json:"featureFlag"`
	GroupName   *string                    `json:"groupName"` // accepted, not stored
	Schemas     map[string]json.RawMessage `json:"schemas"`
	// RetrySchedule is a hookd extension. The SDKs cannot send it, so a PUT without
	// it keeps the event type's; null resets it.
	RetrySchedule optional[string] `json:"retrySchedule"`
	// EnforceSchema is a hookd extension, kept by a PUT without it like RetrySchedule.
	EnforceSchema optional[bool] `json:"enforceSchema"`
}

// eventTypePatch is the body of PATCH /event-type/{event_type_name}.
type eventTypePatch struct {
	Description   optional[string]                     `json:"description"`
	Archived      optional[bool]                       `json:"archived"`
	Deprecated    optional[bool]                       `json:"deprecated"`
	FeatureFlag   optional[string]                     `json:"featureFlag"`
	GroupName     optional[string]                     `json:"groupName"`
	Schemas       optional[map[string]json.RawMessage] `json:"schemas"`
	RetrySchedule optional[string]                     `json:"retrySchedule"`
	EnforceSchema optional[bool]                       `json:"enforceSchema"`
}

type eventTypeOut struct {
	Name          string                     `json:"name"`
	Description   string                     `json:"description"`
	Archived      bool                       `json:"archived"`
	Deprecated    bool                       `json:"deprecated"`
	FeatureFlag   string                     `json:"featureFlag,omitempty"`
	Schemas       map[string]json.RawMessage `json:"schemas,omitempty"`
	RetrySchedule *string                    `json:"retrySchedule"` // null: the server's
	EnforceSchema bool                       `json:"enforceSchema"`
	CreatedAt     time.Time                  `json:"createdAt"`
	UpdatedAt     time.Time                  `json:"updatedAt"`
}

func etOut(withSchemas bool) func(*hookd.EventType) eventTypeOut {
	return func(et *hookd.EventType) eventTypeOut {
		out := eventTypeOut{
			Name: et.Name, Description: et.Description, Archived: et.Archived, Deprecated: et.Deprecated,
			FeatureFlag: et.FeatureFlag, EnforceSchema: et.EnforceSchema,
			CreatedAt: et.CreatedAt.UTC(), UpdatedAt: et.UpdatedAt.UTC(),
		}
		if withSchemas {
			out.Schemas = et.Schemas
		}
		if et.RetrySchedule != "" {
			out.RetrySchedule = &et.RetrySchedule
		}
		return out
	}
}

func checkSchemas(schemas map[string]json.RawMessage) error {
	for version, schema := range schemas {
		var v map[string]any
		if err := json.Unmarshal(schema, &v); err != nil {
			return invalid("schemas", "schema "+quote(version)+" must be a JSON object (a JSON Schema)")
		}
	}
	return nil
}

// apply validates in and copies it onto et; the name is set by the caller.
func (in *eventTypeIn) apply(et *hookd.EventType) error {
	if in.Description == nil {
		return invalid("description", "description is required")
	}
	et.Description = *in.Description
	et.Archived = in.Archived != nil && *in.Archived
	et.Deprecated = in.Deprecated != nil && *in.Deprecated
	et.FeatureFlag = ""
	if in.FeatureFlag != nil && *in.FeatureFlag != "" {
		if err := hookd.CheckName("featureFlag", *in.FeatureFlag, 256); err != nil {
			return err
		}
		et.FeatureFlag = *in.FeatureFlag
	}
	if err := checkSchemas(in.Schemas); err != nil {
		return err
	}
	et.Schemas = in.Schemas
	if in.RetrySchedule.Set {
		if err := hookd.CheckRetrySchedule("retrySchedule", in.RetrySchedule.Value); err != nil {
			return err
		}
		et.RetrySchedule = in.RetrySchedule.Value
	}
	if in.EnforceSchema.Set {
		et.EnforceSchema = in.EnforceSchema.Value
	}
	return nil
}

// checkEnforcedSchemas refuses schemas that do not compile on an event type whose
// payloads are validated against them (its enforceSchema, or --enforce-schemas).
func (s *Server) checkEnforcedSchemas(et *hookd.EventType) error {
	if !s.cfg.EnforceSchemas && !et.EnforceSchema {
		return nil
	}
	return checkSchemasCompile(et.Name, et.Schemas)
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	// Event types are listed by name, A to Z, unless asked otherwise.
	p.Ascending = r.URL.Query().Get("order") != "descending"
	withContent, err := queryBool(r, "with_content", false)
	if err != nil {
		return err
	}
	archived, err := queryBool(r, "include_archived", false)
	if err != nil {
		return err
	}
	ets, err := s.store.EventTypes(r.Context(), hookd.EventTypeFilter{IncludeArchived: archived}, probe(p))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(p, ets, func(et *hookd.EventType) string { return et.Name }, etOut(withContent)))
	return nil
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return invalid("name", "name is required")
	}
	if err := hookd.CheckName("name", *in.Name, 256); err != nil {
		return err
	}
	now := s.now()
	et := &hookd.EventType{Name: *in.Name, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(et); err != nil {
		return err
	}
	if err := s.checkEnforcedSchemas(et); err != nil {
		return err
	}
	if err := s.store.CreateEventType(r.Context(), et); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, etOut(true)(et))
	return nil
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request) error {
	et, err := s.store.EventType(r.Context(), r.PathValue("event_type_name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, etOut(true)(et))
	return nil
}

// updateEventType replaces an event type, creating it if it does not exist.
func (s *Server) updateEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name != nil && *in.Name != r.PathValue("event_type_name") {
		return invalid("name", "name must match the event type in the path")
	}
	ctx := r.Context()
	now := s.now()
	et, err := s.store.EventType(ctx, r.PathValue("event_type_name"))
	if hookd.IsNotFound(err) {
		name := r.PathValue("event_type_name")
		if err := hookd.CheckName("name", name, 256); err != nil {
			return err
		}
		et = &hookd.EventType{Name: name, CreatedAt: now, UpdatedAt: now}
		if err := in.apply(et); err != nil {
			return err
		}
		if err := s.checkEnforcedSchemas(et); err != nil {
			return err
		}
		if err := s.store.CreateEventType(ctx, et); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, etOut(true)(et))
		return nil
	}
	if err != nil {
		return err
	}
	if err := in.apply(et); err != nil {
		return err
	}
	if err := s.checkEnforcedSchemas(et); err != nil {
		return err
	}
	et.UpdatedAt = now
	if err := s.store.UpdateEventType(ctx, et); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, etOut(true)(et))
	return nil
}

func (s *Server) patchEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypePatch
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	et, err := s.store.EventType(ctx, r.PathValue("event_type_name"))
	if err != nil {
		return err
	}
	if in.Description.Set {
		et.Description = in.Description.Value
	}
	if in.Archived.Set {
		et.Archived = in.Archived.Value
	}
	if in.Deprecated.Set {
		et.Deprecated = in.Deprecated.Value
	}
	if in.FeatureFlag.Set {
		et.FeatureFlag = ""
		if !in.FeatureFlag.Null && in.FeatureFlag.Value != "" {
			if err := hookd.CheckName("featureFlag", in.FeatureFlag.Value, 256); err != nil {
				return err
			}
			et.FeatureFlag = in.FeatureFlag.Value
		}
	}
	if in.Schemas.Set {
		if err := checkSchemas(in.Schemas.Value); err != nil {
			return err
		}
		et.Schemas = in.Schemas.Value
	}
	if in.RetrySchedule.Set {
		if err := hookd.CheckRetrySchedule("retrySchedule", in.RetrySchedule.Value); err != nil {
			return err
		}
		et.RetrySchedule = in.RetrySchedule.Value
	}
	if in.EnforceSchema.Set {
		et.EnforceSchema = in.EnforceSchema.Value
	}
	if err := s.checkEnforcedSchemas(et); err != nil {
		return err
	}
	et.UpdatedAt = s.now()
	if err := s.store.UpdateEventType(ctx, et); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, etOut(true)(et))
	return nil
}

// deleteEventType archives an event type, as Svix does; ?expunge=true deletes it.
func (s *Server) deleteEventType(w http.ResponseWriter, r *http.Request) error {
	expunge, err := queryBool(r, "expunge", false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	et, err := s.store.EventType(ctx, r.PathValue("event_type_name"))
	if err != nil {
		return err
	}
	if expunge {
		err = s.store.DeleteEventType(ctx, et.Name)
	} else {
		et.Archived = true
		et.UpdatedAt = s.now()
		err = s.store.UpdateEventType(ctx, et)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

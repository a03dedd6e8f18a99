package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hookd/hookd"
)

// eventTypeImportIn is Svix's EventTypeImportOpenApiIn.
type eventTypeImportIn struct {
	Spec       map[string]any `json:"spec"`
	SpecRaw    *string        `json:"specRaw"`
	DryRun     bool           `json:"dryRun"`
	ReplaceAll bool           `json:"replaceAll"`
}

// eventTypeFromOpenAPI is Svix's EventTypeFromOpenApi.
type eventTypeFromOpenAPI struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Schemas     map[string]any `json:"schemas"`
	Deprecated  bool           `json:"deprecated"`
}

type eventTypeImportOut struct {
	Data struct {
		Modified []string               `json:"modified"`
		ToModify []eventTypeFromOpenAPI `json:"to_modify,omitempty"`
	} `json:"data"`
}

// maxImportEventTypes bounds one import.
const maxImportEventTypes = 1000

// importEventTypesOpenAPI creates or updates an event type for every webhook of an
// OpenAPI document (its "webhooks" or "x-webhooks"): the name is the webhook's key,
// the description its POST's description (or summary), the schema version "1" its
// JSON request body's schema, with references into components.schemas inlined.
// An archived event type imported again is unarchived; replaceAll archives the
// event types the document does not have; dryRun only reports.
func (s *Server) importEventTypesOpenAPI(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeImportIn
	if err := decode(r, &in); err != nil {
		return err
	}
	spec := in.Spec
	switch {
	case (spec != nil) == (in.SpecRaw != nil):
		return hookd.Errorf(hookd.EBADREQUEST, "give the OpenAPI document as either spec or specRaw")
	case in.SpecRaw != nil:
		if err := yaml.Unmarshal([]byte(*in.SpecRaw), &spec); err != nil || spec == nil {
			return invalid("specRaw", "specRaw is not a YAML or JSON document")
		}
	}
	found, err := webhooksOf(spec)
	if err != nil {
		return err
	}
	out := eventTypeImportOut{}
	out.Data.Modified = []string{}
	if in.DryRun {
		out.Data.ToModify = found
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	ctx := r.Context()
	now := s.now()
	names := map[string]bool{}
	for _, f := range found {
		names[f.Name] = true
		schema, err := json.Marshal(f.Schemas["1"])
		if err != nil {
			return invalid("spec", "the schema of "+f.Name+" cannot be encoded as JSON")
		}
		et, err := s.store.EventType(ctx, f.Name)
		isNew := hookd.IsNotFound(err)
		switch {
		case isNew:
			et = &hookd.EventType{Name: f.Name, CreatedAt: now}
		case err != nil:
			return err
		}
		et.Description, et.Deprecated, et.Archived, et.UpdatedAt = f.Description, f.Deprecated, false, now
		et.Schemas = map[string]json.RawMessage{"1": schema}
		if err := s.checkEnforcedSchemas(et); err != nil {
			return err
		}
		if isNew {
			err = s.store.CreateEventType(ctx, et)
		} else {
			err = s.store.UpdateEventType(ctx, et)
		}
		if err != nil {
			return err
		}
		out.Data.Modified = append(out.Data.Modified, f.Name)
	}
	if in.ReplaceAll {
		p := hookd.Page{Limit: maxLimit, Ascending: true}
		for {
			ets, err := s.store.EventTypes(ctx, hookd.EventTypeFilter{}, p)
			if err != nil {
				return err
			}
			for _, et := range ets {
				if !names[et.Name] && !et.Archived {
					et.Archived, et.UpdatedAt = true, now
					if err := s.store.UpdateEventType(ctx, et); err != nil {
						return err
					}
					out.Data.Modified = append(out.Data.Modified, et.Name)
				}
			}
			if len(ets) < p.Limit {
				break
			}
			p.Iterator = ets[len(ets)-1].Name
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// webhooksOf reads the webhooks of an OpenAPI document, by name.
func webhooksOf(spec map[string]any) ([]eventTypeFromOpenAPI, error) {
	hooks, _ := spec["webhooks"].(map[string]any)
	if hooks == nil {
		hooks, _ = spec["x-webhooks"].(map[string]any)
	}
	if hooks == nil {
		return nil, invalid("spec", `the OpenAPI document has no "webhooks" (or "x-webhooks") object`)
	}
	if len(hooks) > maxImportEventTypes {
		return nil, invalid("spec", "at most 1000 webhooks per import")
	}
	components, _ := spec["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	var out []eventTypeFromOpenAPI
	for _, name := range slices.Sorted(mapKeys(hooks)) {
		if err := checkName("spec", name, 256); err != nil {
			return nil, invalid("spec", "webhook "+quote(name)+" is not a valid event type name")
		}
		item, _ := hooks[name].(map[string]any)
		post, _ := item["post"].(map[string]any)
		if post == nil {
			return nil, invalid("spec", "webhook "+quote(name)+" has no post operation")
		}
		et := eventTypeFromOpenAPI{Name: name}
		et.Description, _ = post["description"].(string)
		if et.Description == "" {
			et.Description, _ = post["summary"].(string)
		}
		et.Deprecated, _ = post["deprecated"].(bool)
		body, _ := post["requestBody"].(map[string]any)
		content, _ := body["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		if schema, ok := media["schema"].(map[string]any); ok {
			resolved, err := inlineRefs(schema, schemas, 0)
			if err != nil {
				return nil, invalid("spec", "webhook "+quote(name)+": "+err.Error())
			}
			et.Schemas = map[string]any{"1": resolved}
		} else {
			et.Schemas = map[string]any{"1": map[string]any{"type": "object"}}
		}
		out = append(out, et)
	}
	return out, nil
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// errRef is a reference the import cannot follow.
type errRef string

func (e errRef) Error() string { return string(e) }

// inlineRefs replaces "#/components/schemas/…" references by the schemas they name, so
// that the stored schema stands alone; depth bounds recursive schemas.
func inlineRefs(v any, schemas map[string]any, depth int) (any, error) {
	if depth > 32 {
		return nil, errRef("schema references nest more than 32 deep (a recursive schema?)")
	}
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			name, ok := strings.CutPrefix(ref, "#/components/schemas/")
			target, found := schemas[name]
			if !ok || !found {
				return nil, errRef("reference " + quote(ref) + " is not to a schema of components.schemas")
			}
			return inlineRefs(target, schemas, depth+1)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := inlineRefs(e, schemas, depth)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := inlineRefs(e, schemas, depth)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// exportEventTypesOpenAPI answers a finished sdk.generate background task (Svix's
// ExportEventTypeOut) whose data holds, under "openapi", an OpenAPI 3.1 document with a
// webhook for every event type that is not archived: its newest schema as the JSON
// request body. Importing that document gives the event types back.
func (s *Server) exportEventTypesOpenAPI(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	hooks := map[string]any{}
	p := hookd.Page{Limit: maxLimit, Ascending: true}
	for {
		ets, err := s.store.EventTypes(ctx, hookd.EventTypeFilter{}, p)
		if err != nil {
			return err
		}
		for _, et := range ets {
			post := map[string]any{"description": et.Description, "deprecated": et.Deprecated,
				"responses": map[string]any{"200": map[string]any{"description": "Return a 2xx status to acknowledge the webhook."}}}
			if _, schema := et.NewestSchema(); len(schema) > 0 {
				post["requestBody"] = map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": schema}}}
			}
			hooks[et.Name] = map[string]any{"post": post}
		}
		if len(ets) < p.Limit {
			break
		}
		p.Iterator = ets[len(ets)-1].Name
	}
	doc := map[string]any{"openapi": "3.1.0", "info": map[string]any{"title": "Webhooks", "version": "1.0.0"}, "webhooks": hooks}
	data, err := json.Marshal(map[string]any{"openapi": doc})
	if err != nil {
		return err
	}
	now := s.now()
	t := &hookd.Task{ID: s.cfg.IDs.New(hookd.PrefixTask), Kind: hookd.TaskSDKGenerate, Status: hookd.TaskFinished,
		Params: json.RawMessage(`{}`), Data: data, LeaseUntil: now, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateTask(ctx, t); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, tOut(t).taskStartOut)
	return nil
}

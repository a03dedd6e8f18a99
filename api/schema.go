package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Payload schemas. With enforcement on (Config.EnforceSchemas for every event type,
// or an event type's enforceSchema), a message's payload must validate against the
// newest version of its event type's JSON Schema (hookd.EventType.NewestSchema: the
// highest numbered one), draft 2020-12 unless the schema names another with
// $schema, with format assertions on. A message whose event type does not exist or
// has no schema is not checked. Schemas may refer only within themselves: hookd loads
// no other document for a $ref.

// maxSchemaErrors bounds the items of one 422 about a payload.
const maxSchemaErrors = 20

// maxSchemaEntries bounds the schema cache; past it, the cache starts over.
const maxSchemaEntries = 10000

var schemaPrinter = message.NewPrinter(language.English)

// schemaEntry is what message create needs to know of one event type.
type schemaEntry struct {
	enforce bool
	version string
	raw     json.RawMessage
	schema  *jsonschema.Schema // nil without a schema, or when it does not compile
	err     error              // why the schema does not compile
	at      time.Time
}

// schemaCache keeps, per event type name, its compiled newest schema and whether it
// is enforced, so that message create reads and compiles it once. Every change of an
// event type through this node's API empties it before and after (see Server.serve);
// a change made on another node takes effect once the entry expires, after the
// fan-out cache's TTL. A schema read again unchanged is not compiled again.
type schemaCache struct {
	ttl time.Duration

	mu  sync.Mutex
	gen uint64
	m   map[string]schemaEntry
}

func newSchemaCache(ttl time.Duration) *schemaCache {
	return &schemaCache{ttl: ttl, m: make(map[string]schemaEntry)}
}

// get returns the entry for name, whether it is fresh, and the generation to pass to
// put. A stale entry is returned too, for its compiled schema.
func (c *schemaCache) get(name string) (schemaEntry, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[name]
	return e, ok && c.ttl > 0 && time.Since(e.at) < c.ttl, c.gen
}

func (c *schemaCache) put(name string, gen uint64, e schemaEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= maxSchemaEntries {
		clear(c.m)
	}
	c.m[name] = e
}

func (c *schemaCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.m)
	c.mu.Unlock()
}

// changesEventTypes reports whether a request may change an event type.
func changesEventTypes(r *http.Request, rt route) bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS":
		return false
	}
	return strings.HasPrefix(rt.pattern, "/api/v1/event-type")
}

// payloadSchema returns what applies to messages of the event type.
func (s *Server) payloadSchema(ctx context.Context, name string) (schemaEntry, error) {
	prev, fresh, gen := s.schemas.get(name)
	if fresh {
		return prev, nil
	}
	readAt := time.Now()
	e := schemaEntry{at: readAt}
	et, err := s.store.EventType(ctx, name)
	switch {
	case hookd.IsNotFound(err):
	case err != nil:
		return e, err
	case s.cfg.EnforceSchemas || et.EnforceSchema:
		e.enforce = true
		e.version, e.raw = et.NewestSchema()
		if e.raw != nil {
			if prev.schema != nil && prev.version == e.version && bytes.Equal(prev.raw, e.raw) {
				e.schema = prev.schema
			} else {
				e.schema, e.err = compileSchema(name, e.version, e.raw)
			}
		}
	}
	s.schemas.put(name, gen, e)
	return e, nil
}

// checkPayloadSchema refuses a payload that the enforced schema of its event type
// does not validate, with one 422 item per rule broken.
func (s *Server) checkPayloadSchema(ctx context.Context, eventType string, payload json.RawMessage) error {
	e, err := s.payloadSchema(ctx, eventType)
	if err != nil || !e.enforce || e.raw == nil {
		return err
	}
	if e.err != nil {
		msg := fmt.Sprintf("schema version %s of event type %s is not a valid JSON Schema, so payloads cannot be checked against it: %s", e.version, eventType, schemaCompileError(e.err))
		return &hookd.Error{Code: hookd.EINVALID, Field: "eventType", Message: msg,
			Err: &validationError{loc: []string{"body", "eventType"}, typ: "value_error.jsonschema.invalid_schema", msg: msg}}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return invalidType("payload", "payload is not valid JSON")
	}
	err = e.schema.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	items := schemaErrorItems(ve, eventType, e.version)
	if len(items) == 0 { // a schema that fails without saying why
		items = []validationItem{{Loc: []string{"body", "payload"}, Type: "value_error.jsonschema",
			Msg: fmt.Sprintf("payload does not validate against schema version %s of %s", e.version, eventType)}}
	}
	return &hookd.Error{Code: hookd.EINVALID, Field: "payload", Message: items[0].Msg,
		Err: &validationError{loc: items[0].Loc, typ: items[0].Type, msg: items[0].Msg, items: items}}
}

// schemaErrorItems turns the leaves of a validation error into 422 items: where in
// the payload (loc, and a JSON Pointer in msg), what is wrong, and the rule (type
// names the keyword, msg its place in the schema).
func schemaErrorItems(ve *jsonschema.ValidationError, eventType, version string) []validationItem {
	var items []validationItem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		kw := e.ErrorKind.KeywordPath()
		keyword := "false" // the false schema has no keyword
		if len(kw) > 0 {
			keyword = kw[len(kw)-1]
		}
		rule := "#"
		if _, frag, ok := strings.Cut(e.SchemaURL, "#"); ok {
			rule += frag
		}
		rule += jsonPointer(kw)
		text := e.ErrorKind.LocalizedString(schemaPrinter)
		add := func(inst []string) {
			ptr := jsonPointer(inst)
			where := "payload"
			if ptr != "" {
				where = "payload at " + ptr
			}
			items = append(items, validationItem{
				Loc:  append([]string{"body", "payload"}, inst...),
				Type: "value_error.jsonschema." + keyword,
				Msg:  fmt.Sprintf("%s: %s (rule %s of event type %s, schema version %s)", where, text, rule, eventType, version),
			})
		}
		if req, ok := e.ErrorKind.(*kind.Required); ok && len(req.Missing) > 0 {
			// Each missing property is a place of its own: loc names it.
			for _, p := range req.Missing {
				text = "missing property " + quote(p)
				add(append(slices.Clone(e.InstanceLocation), p))
			}
			return
		}
		add(e.InstanceLocation)
	}
	walk(ve)
	// In the order of the payload, whatever order the validator went in.
	slices.SortStableFunc(items, func(a, b validationItem) int {
		if c := slices.Compare(a.Loc, b.Loc); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type)
	})
	return items[:min(len(items), maxSchemaErrors)]
}

// jsonPointer writes tokens as a JSON Pointer (RFC 6901).
func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// noLoader refuses every document a schema refers to: a schema is checked on its
// own, and hookd reads neither files nor URLs for it.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("a schema may refer only within itself, not to %s", u)
}

// schemaURL is the name a schema is compiled under.
func schemaURL(eventType, version string) string {
	return "https://hookd.invalid/event-type/" + url.PathEscape(eventType) + "/" + url.PathEscape(version) + ".json"
}

// compileSchema compiles one version of an event type's schema.
func compileSchema(eventType, version string, raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	loc := schemaURL(eventType, version)
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// schemaCompileError says briefly why a schema does not compile, without the URL it
// was compiled under.
func schemaCompileError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if i := strings.Index(msg, "https://hookd.invalid/event-type/"); i >= 0 {
		if j := strings.Index(msg[i:], ".json"); j >= 0 {
			msg = msg[:i] + "schema" + msg[i+j+len(".json"):]
		}
	}
	return msg
}

// checkSchemasCompile refuses event type schemas that do not compile, when their
// payloads are to be validated against them.
func checkSchemasCompile(name string, schemas map[string]json.RawMessage) error {
	versions := make([]string, 0, len(schemas))
	for v := range schemas {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		if _, err := compileSchema(name, v, schemas[v]); err != nil {
			msg := fmt.Sprintf("schema %s is not a valid JSON Schema (draft 2020-12 unless $schema says otherwise): %s", quote(v), schemaCompileError(err))
			return &hookd.Error{Code: hookd.EINVALID, Field: "schemas", Message: msg,
				Err: &validationError{loc: []string{"body", "schemas", v}, typ: "value_error.jsonschema.invalid_schema", msg: msg}}
		}
	}
	return nil
}

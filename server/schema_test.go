package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/server"
)

// orderSchemas are two versions of a schema; version 2, the newest, is enforced.
const orderSchemas = `{
	"1": {"type": "object", "required": ["amount"]},
	"2": {"type": "object", "required": ["amount", "currency"],
		"properties": {
			"amount": {"type": "integer", "minimum": 0},
			"currency": {"enum": ["EUR", "USD"]},
			"email": {"type": "string", "format": "email"},
			"lines": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/line"}},
			"a/b": {"const": 1}
		},
		"$defs": {"line": {"type": "object", "required": ["sku"], "additionalProperties": false,
			"properties": {"sku": {"type": "string", "minLength": 1}}}}}
}`

// schemaItem is one item of a 422 about a payload.
type schemaItem struct {
	loc       []string
	typ       string
	msgPieces []string
}

// TestSchemaEnforcement validates message payloads against the newest schema of an
// event type that enforces it, and only such event types, with one 422 item per rule
// broken.
func TestSchemaEnforcement(t *testing.T) {
	ts := startServer(t)
	do := func(method, path, body string, want int) []byte {
		t.Helper()
		return ts.expect(t, method, path, body, want)
	}
	var app struct{ ID string }
	_ = json.Unmarshal(do("POST", "/api/v1/app", `{"name":"a"}`, 201), &app)
	out := do("POST", "/api/v1/event-type", `{"name":"order.created","description":"d","enforceSchema":true,"schemas":`+orderSchemas+`}`, 201)
	if !strings.Contains(string(out), `"enforceSchema":true`) {
		t.Errorf("create answered %s, want enforceSchema true", out)
	}
	do("POST", "/api/v1/event-type", `{"name":"order.loose","description":"d","schemas":`+orderSchemas+`}`, 201)
	msgs := "/api/v1/app/" + app.ID + "/msg"

	tests := []struct {
		name      string
		eventType string
		payload   string
		want      []schemaItem // nil: accepted
	}{
		{"valid", "order.created", `{"amount":5,"currency":"EUR","email":"a@example.com","lines":[{"sku":"x"}]}`, nil},
		{"missing property", "order.created", `{"amount":5}`,
			[]schemaItem{{[]string{"body", "payload", "currency"}, "value_error.jsonschema.required", []string{"payload at /currency", "missing property", "rule #/required", "schema version 2"}}}},
		{"valid for the older version only", "order.created", `{"amount":1}`,
			[]schemaItem{{[]string{"body", "payload", "currency"}, "value_error.jsonschema.required", nil}}},
		{"below minimum", "order.created", `{"amount":-5,"currency":"USD"}`,
			[]schemaItem{{[]string{"body", "payload", "amount"}, "value_error.jsonschema.minimum", []string{"payload at /amount", "rule #/properties/amount/minimum", "order.created"}}}},
		{"wrong type", "order.created", `{"amount":"5","currency":"USD"}`,
			[]schemaItem{{[]string{"body", "payload", "amount"}, "value_error.jsonschema.type", []string{"#/properties/amount/type"}}}},
		{"not in enum", "order.created", `{"amount":5,"currency":"GBP"}`,
			[]schemaItem{{[]string{"body", "payload", "currency"}, "value_error.jsonschema.enum", []string{"#/properties/currency/enum"}}}},
		{"format asserted", "order.created", `{"amount":5,"currency":"EUR","email":"nope"}`,
			[]schemaItem{{[]string{"body", "payload", "email"}, "value_error.jsonschema.format", []string{"payload at /email"}}}},
		{"through a $ref", "order.created", `{"amount":5,"currency":"EUR","lines":[{"sku":""},{"sku":"y","qty":1}]}`,
			[]schemaItem{
				{[]string{"body", "payload", "lines", "0", "sku"}, "value_error.jsonschema.minLength", []string{"payload at /lines/0/sku", "#/$defs/line/properties/sku/minLength"}},
				{[]string{"body", "payload", "lines", "1"}, "value_error.jsonschema.additionalProperties", []string{"payload at /lines/1"}},
			}},
		{"escaped pointer", "order.created", `{"amount":5,"currency":"EUR","a/b":2}`,
			[]schemaItem{{[]string{"body", "payload", "a/b"}, "value_error.jsonschema.const", []string{"payload at /a~1b"}}}},
		{"several rules", "order.created", `{"amount":-1,"currency":"X","lines":[{},{},{}]}`,
			[]schemaItem{
				{[]string{"body", "payload", "amount"}, "value_error.jsonschema.minimum", nil},
				{[]string{"body", "payload", "currency"}, "value_error.jsonschema.enum", nil},
				{[]string{"body", "payload", "lines"}, "value_error.jsonschema.maxItems", nil},
				{[]string{"body", "payload", "lines", "0", "sku"}, "value_error.jsonschema.required", nil},
				{[]string{"body", "payload", "lines", "1", "sku"}, "value_error.jsonschema.required", nil},
				{[]string{"body", "payload", "lines", "2", "sku"}, "value_error.jsonschema.required", nil},
			}},
		{"not enforced", "order.loose", `{"amount":-5}`, nil},
		{"unknown event type", "order.unknown", `{"anything":true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := ts.raw(t, "POST", msgs, `{"eventType":"`+tt.eventType+`","payload":`+tt.payload+`}`)
			checkSchemaAnswer(t, code, out, tt.want)
		})
	}

	// The flag is a setting of the event type: turned off, payloads are free; a
	// schema changed by an update applies to the next message.
	etPath := "/api/v1/event-type/order.created"
	bad := `{"eventType":"order.created","payload":{"amount":-5}}`
	do("PATCH", etPath, `{"enforceSchema":false}`, 200)
	do("POST", msgs, bad, 202)
	do("PATCH", etPath, `{"enforceSchema":true}`, 200)
	do("POST", msgs, bad, 422)
	do("PUT", etPath, `{"description":"d","schemas":{"3":{"type":"object"}}}`, 200)
	if out := do("GET", etPath, "", 200); !strings.Contains(string(out), `"enforceSchema":true`) {
		t.Errorf("a PUT without enforceSchema answered %s, want it kept", out)
	}
	do("POST", msgs, bad, 202)
	do("PUT", etPath, `{"description":"d","schemas":{"3":{"type":"object","required":["id"]}}}`, 200)
	code, out := ts.raw(t, "POST", msgs, bad)
	checkSchemaAnswer(t, code, out, []schemaItem{{[]string{"body", "payload", "id"}, "value_error.jsonschema.required", []string{"schema version 3"}}})

	// A schema that does not compile is refused where it would be enforced.
	broken := `{"1":{"type":5}}`
	code, out = ts.raw(t, "POST", "/api/v1/event-type", `{"name":"broken","description":"d","enforceSchema":true,"schemas":`+broken+`}`)
	checkSchemaAnswer(t, code, out, []schemaItem{{[]string{"body", "schemas", "1"}, "value_error.jsonschema.invalid_schema", []string{"not a valid JSON Schema"}}})
	do("POST", "/api/v1/event-type", `{"name":"broken","description":"d","schemas":`+broken+`}`, 201)
	code, out = ts.raw(t, "PATCH", "/api/v1/event-type/broken", `{"enforceSchema":true}`)
	checkSchemaAnswer(t, code, out, []schemaItem{{[]string{"body", "schemas", "1"}, "value_error.jsonschema.invalid_schema", nil}})
	code, out = ts.raw(t, "POST", "/api/v1/event-type", `{"name":"remote","description":"d","enforceSchema":true,"schemas":{"1":{"$ref":"https://example.com/s.json"}}}`)
	checkSchemaAnswer(t, code, out, []schemaItem{{[]string{"body", "schemas", "1"}, "value_error.jsonschema.invalid_schema", []string{"only within itself"}}})
}

// TestSchemaEnforcementServerWide enforces every event type's schema with
// EnforceSchemas (--enforce-schemas), and refuses to check against a schema that
// does not compile.
func TestSchemaEnforcementServerWide(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.EnforceSchemas = true })
	do := func(method, path, body string, want int) []byte {
		t.Helper()
		return ts.expect(t, method, path, body, want)
	}
	var app struct{ ID string }
	_ = json.Unmarshal(do("POST", "/api/v1/app", `{"name":"a"}`, 201), &app)
	do("POST", "/api/v1/event-type", `{"name":"order.created","description":"d","schemas":`+orderSchemas+`}`, 201)
	do("POST", "/api/v1/event-type", `{"name":"bare","description":"no schema"}`, 201)
	code, out := ts.raw(t, "POST", "/api/v1/event-type", `{"name":"broken","description":"d","schemas":{"1":{"minimum":"x"}}}`)
	checkSchemaAnswer(t, code, out, []schemaItem{{[]string{"body", "schemas", "1"}, "value_error.jsonschema.invalid_schema", nil}})
	msgs := "/api/v1/app/" + app.ID + "/msg"
	code, out = ts.raw(t, "POST", msgs, `{"eventType":"order.created","payload":{"amount":1.5,"currency":"EUR"}}`)
	checkSchemaAnswer(t, code, out, []schemaItem{{[]string{"body", "payload", "amount"}, "value_error.jsonschema.type", nil}})
	do("POST", msgs, `{"eventType":"order.created","payload":{"amount":1,"currency":"EUR"}}`, 202)
	// At most 20 items, the first ones in the order of the payload.
	code, out = ts.raw(t, "POST", msgs, `{"eventType":"order.created","payload":{"currency":"EUR","amount":1,"lines":[`+strings.Repeat(`{},`, 29)+`{}]}}`)
	var v validation
	if code != 422 || json.Unmarshal(out, &v) != nil || len(v.Detail) != 20 || v.Detail[0].Type != "value_error.jsonschema.maxItems" {
		t.Errorf("31 broken rules: %d %s, want 422 with 20 items, maxItems first", code, out)
	}
	do("POST", msgs, `{"eventType":"bare","payload":{"x":1}}`, 202)
	do("POST", msgs, `{"eventType":"nothing.registered","payload":{"x":1}}`, 202)
}

// checkSchemaAnswer checks a message create's answer: 202 when want is nil, else a
// 422 whose items are want, in order.
func checkSchemaAnswer(t *testing.T, code int, out []byte, want []schemaItem) {
	t.Helper()
	if want == nil {
		if code != 202 {
			t.Errorf("%d %s, want 202", code, out)
		}
		return
	}
	var v validation
	if code != 422 || json.Unmarshal(out, &v) != nil {
		t.Fatalf("%d %s, want 422", code, out)
	}
	if len(v.Detail) != len(want) {
		t.Fatalf("%d items %s, want %d", len(v.Detail), out, len(want))
	}
	for i, w := range want {
		d := v.Detail[i]
		if !slices.Equal(d.Loc, w.loc) || d.Type != w.typ {
			t.Errorf("item %d: loc %q type %q, want %q %q (%s)", i, d.Loc, d.Type, w.loc, w.typ, d.Msg)
		}
		for _, p := range w.msgPieces {
			if !strings.Contains(d.Msg, p) {
				t.Errorf("item %d: msg %q does not say %q", i, d.Msg, p)
			}
		}
	}
}

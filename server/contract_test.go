package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/hookdtest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// contractFile is the OpenAPI document the Svix SDKs 2.x are generated from
// (svix-lib-openapi.json, version 1.947.0), without its prose: descriptions,
// summaries, examples and code samples are removed, everything else is as published.
const contractFile = "testdata/svix-lib-openapi.json"

// contract is the SDK contract, loaded once.
type contract struct {
	ops      map[string]*contractOp // by "METHOD /path"
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

// contractOp is one operation of the contract.
type contractOp struct {
	Method, Path string
	ID           string `json:"operationId"`
	Tags         []string
	Internal     bool `json:"x-internal"`
	Deprecated   bool
	Responses    map[string]struct {
		Content map[string]struct {
			Schema struct {
				Ref string `json:"$ref"`
			}
		}
	}
}

// name is the operation's name as the SDKs group it: operationId without "v1.".
func (op *contractOp) name() string { return strings.TrimPrefix(op.ID, "v1.") }

// success returns the operation's 2xx status codes and the schema of each answer
// ("" for none).
func (op *contractOp) success() map[int]string {
	out := map[int]string{}
	for code, r := range op.Responses {
		n, err := strconv.Atoi(code)
		if err != nil || n < 200 || n > 299 {
			continue
		}
		out[n] = r.Content["application/json"].Schema.Ref
	}
	return out
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	b, err := os.ReadFile(contractFile)
	if err != nil {
		return nil, err
	}
	return parseContract(b)
})

// loadOwn is hookd's own OpenAPI document (GET /openapi.json), read the same way.
var loadOwn = sync.OnceValues(func() (*contract, error) { return parseContract(api.OpenAPI()) })

// parseContract reads an OpenAPI document's operations and prepares its schemas.
func parseContract(b []byte) (*contract, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	c := &contract{ops: map[string]*contractOp{}, schemas: map[string]*jsonschema.Schema{}}
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue
			}
			op := &contractOp{Method: strings.ToUpper(method), Path: path}
			if err := json.Unmarshal(raw, op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			c.ops[op.Method+" "+path] = op
		}
	}
	tree, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c.compiler = jsonschema.NewCompiler()
	if err := c.compiler.AddResource("contract.json", asJSONSchema(tree)); err != nil {
		return nil, err
	}
	return c, nil
}

// svixID matches the contract's ID patterns, such as ^ep_[A-Za-z0-9]{27}$.
var svixID = regexp.MustCompile(`^\^([a-z]+_)\[A-Za-z0-9\]\{27\}\$$`)

// asJSONSchema rewrites the OpenAPI 3.0 idioms the document still uses into JSON
// Schema: "nullable: true" becomes a null alternative. It also accepts hookd's IDs,
// which have 22 base62 characters after the prefix where Svix's have 27 (the SDKs do
// not check either).
func asJSONSchema(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = asJSONSchema(x)
		}
		if p, ok := v["pattern"].(string); ok {
			if m := svixID.FindStringSubmatch(p); m != nil {
				v["pattern"] = "^" + m[1] + "[A-Za-z0-9]{22,27}$"
				delete(v, "minLength")
				delete(v, "maxLength")
			}
		}
		if v["nullable"] == true {
			delete(v, "nullable")
			if t, ok := v["type"].(string); ok {
				v["type"] = []any{t, "null"}
				if e, ok := v["enum"].([]any); ok {
					v["enum"] = append(e, nil)
				}
			} else {
				inner := map[string]any{}
				for k, x := range v {
					inner[k] = x
					delete(v, k)
				}
				v["anyOf"] = []any{inner, map[string]any{"type": "null"}}
			}
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = asJSONSchema(x)
		}
	}
	return v
}

// validate checks body against the contract's schema ref ("#/components/schemas/X").
func (c *contract) validate(ref string, body []byte) error {
	c.mu.Lock()
	sch, ok := c.schemas[ref]
	if !ok {
		var err error
		if sch, err = c.compiler.Compile("contract.json" + ref); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("compile %s: %w", ref, err)
		}
		c.schemas[ref] = sch
	}
	c.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	return sch.Validate(inst)
}

// contractCase is one request of TestContract: route is the operation as hookd
// registers it; req builds the request's path and body when the case runs, making
// through the fixture whatever the request needs, so that each case runs alone.
type contractCase struct {
	route  string
	req    func(t *testing.T, f *contractFixture) (path, body string)
	status int
}

// contractFixture holds the objects the cases of TestContract read: an application
// "acme" with the event type invoice.paid, an endpoint, a message and its first
// attempt, a background task, an operational endpoint. Each is made the first time a
// case asks for it (the cases run one after another, never in parallel).
type contractFixture struct {
	ts       *testServer
	rcv      *httptest.Server
	clientCA *hookdtest.CA
	identity string
	since    string

	appReady, eventTypeReady            bool
	epID, msgID, attemptID, taskID, ops string
	mtls, ca, oauth                     bool
}

// must makes a request the fixture needs and fails the case unless it answers want.
func (f *contractFixture) must(t *testing.T, want int, method, path, body string) []byte {
	t.Helper()
	code, b := f.ts.raw(t, method, path, body)
	if code != want {
		t.Fatalf("set-up %s %s: %d %s; want %d", method, path, code, truncate(b), want)
	}
	return b
}

// created returns the id of an answer.
func created(t *testing.T, b []byte) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		t.Fatalf("answer without an id: %s", b)
	}
	return v.ID
}

// app makes the application acme and returns its path.
func (f *contractFixture) app(t *testing.T) string {
	t.Helper()
	if !f.appReady {
		f.must(t, 201, "POST", "/api/v1/app", `{"name":"Acme","uid":"acme","throttleRate":5,"metadata":{"k":"v"}}`)
		f.appReady = true
	}
	return "/api/v1/app/acme"
}

// eventType makes the event type invoice.paid and returns its path.
func (f *contractFixture) eventType(t *testing.T) string {
	t.Helper()
	if !f.eventTypeReady {
		f.must(t, 201, "POST", "/api/v1/event-type", `{"name":"invoice.paid","description":"paid","schemas":{"1":{"type":"object","examples":[{"invoice":"in_1"}]}}}`)
		f.eventTypeReady = true
	}
	return "/api/v1/event-type/invoice.paid"
}

// endpoint makes acme's endpoint for invoice.paid on channel eu and returns its path.
func (f *contractFixture) endpoint(t *testing.T) string {
	t.Helper()
	app := f.app(t)
	f.eventType(t)
	if f.epID == "" {
		f.epID = created(t, f.must(t, 201, "POST", app+"/endpoint",
			`{"url":"`+f.rcv.URL+`","eventTypes":["invoice.paid"],"channels":["eu"],"headers":{"X-A":"1"}}`))
	}
	return app + "/endpoint/" + f.epID
}

// message sends acme the message with eventId e1, to the endpoint, and returns its path.
func (f *contractFixture) message(t *testing.T) string {
	t.Helper()
	f.endpoint(t)
	if f.msgID == "" {
		f.msgID = created(t, f.must(t, 202, "POST", f.app(t)+"/msg",
			`{"eventType":"invoice.paid","eventId":"e1","payload":{"a":1},"channels":["eu"],"tags":["t"]}`))
	}
	return f.app(t) + "/msg/" + f.msgID
}

// attempt waits for the message's first attempt and returns its path.
func (f *contractFixture) attempt(t *testing.T) string {
	t.Helper()
	msg := f.message(t)
	if f.attemptID == "" {
		waitFor(t, "an attempt", func() bool {
			code, b := f.ts.raw(t, "GET", f.app(t)+"/attempt/msg/"+f.msgID, "")
			var v struct{ Data []struct{ ID string } }
			if code == 200 && json.Unmarshal(b, &v) == nil && len(v.Data) > 0 {
				f.attemptID = v.Data[0].ID
			}
			return f.attemptID != ""
		})
	}
	return msg + "/attempt/" + f.attemptID
}

// task starts a recover task on the endpoint and returns its id.
func (f *contractFixture) task(t *testing.T) string {
	t.Helper()
	if f.taskID == "" {
		f.taskID = created(t, f.must(t, 202, "POST", f.endpoint(t)+"/recover", `{"since":"`+f.since+`"}`))
	}
	return f.taskID
}

// opsEndpoint makes an operational webhook endpoint and returns its path.
func (f *contractFixture) opsEndpoint(t *testing.T) string {
	t.Helper()
	const ops = "/api/v1/operational-webhook/endpoint"
	if f.ops == "" {
		f.ops = created(t, f.must(t, 201, "POST", ops, `{"url":"`+f.rcv.URL+`","eventTypes":["endpoint.disabled"]}`))
	}
	return ops + "/" + f.ops
}

// withMTLS gives the endpoint a client identity and returns the endpoint's path.
func (f *contractFixture) withMTLS(t *testing.T) string {
	t.Helper()
	ep := f.endpoint(t)
	if !f.mtls {
		f.must(t, 204, "PUT", ep+"/mtls", jsonBody("identity", f.identity))
		f.mtls = true
	}
	return ep
}

// withCA gives the endpoint a CA and returns the endpoint's path.
func (f *contractFixture) withCA(t *testing.T) string {
	t.Helper()
	ep := f.endpoint(t)
	if !f.ca {
		f.must(t, 204, "PUT", ep+"/ca", jsonBody("cert", f.clientCA.PEM))
		f.ca = true
	}
	return ep
}

// oauthBody is the endpoint's OAuth client credentials.
const oauthBody = `{"grantType":"clientCredentials","authMethod":"clientSecretBasic","clientId":"c","clientSecret":"s","tokenUrl":"https://auth.example/token","scopes":["a"]}`

// withOAuth gives the endpoint OAuth client credentials and returns its path.
func (f *contractFixture) withOAuth(t *testing.T) string {
	t.Helper()
	ep := f.endpoint(t)
	if !f.oauth {
		f.must(t, 204, "PUT", ep+"/oauth", oauthBody)
		f.oauth = true
	}
	return ep
}

// contractCases are TestContract's cases, one or more for each operation of the
// contract hookd implements.
func contractCases() []contractCase {
	const (
		app = "/api/v1/app/{app_id}"
		ep  = app + "/endpoint/{endpoint_id}"
		msg = app + "/msg/{msg_id}"
		et  = "/api/v1/event-type/{event_type_name}"
		ops = "/api/v1/operational-webhook/endpoint"
	)
	type F = contractFixture
	fixed := func(path, body string) func(*testing.T, *F) (string, string) {
		return func(*testing.T, *F) (string, string) { return path, body }
	}
	return []contractCase{
		{"GET /api/v1/health", fixed("/api/v1/health", ""), 204},
		{"POST /api/v1/app", fixed("/api/v1/app", `{"name":"Beta","uid":"beta","throttleRate":5,"metadata":{"k":"v"}}`), 201},
		{"POST /api/v1/app", func(t *testing.T, f *F) (string, string) {
			f.app(t)
			return "/api/v1/app?get_if_exists=true", `{"name":"Acme","uid":"acme"}`
		}, 200},
		{"GET /api/v1/app", func(t *testing.T, f *F) (string, string) { f.app(t); return "/api/v1/app?limit=1", "" }, 200},
		{"GET " + app, func(t *testing.T, f *F) (string, string) { return f.app(t), "" }, 200},
		{"PUT " + app, func(t *testing.T, f *F) (string, string) {
			return f.app(t), `{"name":"Acme","uid":"acme","throttleRate":5}`
		}, 200},
		{"PUT " + app, fixed("/api/v1/app/other", `{"name":"Other"}`), 201},
		{"PATCH " + app, func(t *testing.T, f *F) (string, string) { return f.app(t), `{"metadata":{"k":"w"}}` }, 200},
		{"POST /api/v1/event-type", fixed("/api/v1/event-type", `{"name":"invoice.sent","description":"sent","schemas":{"1":{"type":"object"}}}`), 201},
		{"GET /api/v1/event-type", func(t *testing.T, f *F) (string, string) { f.eventType(t); return "/api/v1/event-type", "" }, 200},
		{"GET " + et, func(t *testing.T, f *F) (string, string) { return f.eventType(t), "" }, 200},
		{"PUT " + et, func(t *testing.T, f *F) (string, string) {
			return f.eventType(t), `{"description":"paid!","schemas":{"1":{"type":"object","examples":[{"invoice":"in_1"}]}}}`
		}, 200},
		{"PUT " + et, fixed("/api/v1/event-type/user.created", `{"description":"new"}`), 201},
		{"PUT " + et + "/retry-schedule", func(t *testing.T, f *F) (string, string) {
			return f.eventType(t) + "/retry-schedule", `{"retrySchedule":[{"secs":5,"nanos":0},{"secs":60,"nanos":0}]}`
		}, 200},
		{"GET " + et + "/retry-schedule", func(t *testing.T, f *F) (string, string) {
			return f.eventType(t) + "/retry-schedule", ""
		}, 200},
		{"PATCH " + et, func(t *testing.T, f *F) (string, string) { return f.eventType(t), `{"deprecated":true}` }, 200},
		{"POST /api/v1/event-type/import/openapi", fixed("/api/v1/event-type/import/openapi",
			`{"spec":{"openapi":"3.1.0","webhooks":{"pet.new":{"post":{"description":"new pet"}}}}}`), 200},
		{"POST /api/v1/event-type/export/openapi", fixed("/api/v1/event-type/export/openapi", ""), 202},
		{"POST " + app + "/endpoint", func(t *testing.T, f *F) (string, string) {
			f.eventType(t)
			return f.app(t) + "/endpoint", `{"url":"` + f.rcv.URL + `","eventTypes":["invoice.paid"],"channels":["eu"],"throttleRate":9,"metadata":{"t":"b"},"headers":{"X-A":"1"}}`
		}, 201},
		{"GET " + app + "/endpoint", func(t *testing.T, f *F) (string, string) { f.endpoint(t); return f.app(t) + "/endpoint", "" }, 200},
		{"GET " + ep, func(t *testing.T, f *F) (string, string) { return f.endpoint(t), "" }, 200},
		{"PUT " + ep, func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t), `{"url":"` + f.rcv.URL + `","eventTypes":["invoice.paid"]}`
		}, 200},
		{"PUT " + ep, func(t *testing.T, f *F) (string, string) {
			return f.app(t) + "/endpoint/spare", `{"url":"https://example.com/spare"}`
		}, 201},
		{"PATCH " + ep, func(t *testing.T, f *F) (string, string) { return f.endpoint(t), `{"description":"main"}` }, 200},
		{"PUT " + ep + "/headers", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/headers", `{"headers":{"X-A":"1","X-B":"2"}}`
		}, 204},
		{"PATCH " + ep + "/headers", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/headers", `{"headers":{"X-C":"3"},"deleteHeaders":["X-B"]}`
		}, 204},
		{"GET " + ep + "/headers", func(t *testing.T, f *F) (string, string) { return f.endpoint(t) + "/headers", "" }, 200},
		{"GET " + ep + "/secret", func(t *testing.T, f *F) (string, string) { return f.endpoint(t) + "/secret", "" }, 200},
		{"POST " + ep + "/secret/rotate", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/secret/rotate", `{}`
		}, 204},
		{"POST " + app + "/msg", func(t *testing.T, f *F) (string, string) {
			f.endpoint(t)
			return f.app(t) + "/msg", `{"eventType":"invoice.paid","eventId":"e2","payload":{"a":1},"channels":["eu"],"tags":["t"]}`
		}, 202},
		{"POST " + app + "/msg", func(t *testing.T, f *F) (string, string) {
			f.endpoint(t)
			return f.app(t) + "/msg?with_content=false", `{"eventType":"invoice.paid","payload":{}}`
		}, 202},
		{"POST " + app + "/msg/precheck/active", func(t *testing.T, f *F) (string, string) {
			f.endpoint(t)
			return f.app(t) + "/msg/precheck/active", `{"eventType":"invoice.paid","channels":["eu"]}`
		}, 200},
		{"GET " + app + "/msg", func(t *testing.T, f *F) (string, string) { f.message(t); return f.app(t) + "/msg?limit=1", "" }, 200},
		{"GET " + msg, func(t *testing.T, f *F) (string, string) { return f.message(t), "" }, 200},
		{"GET " + app + "/attempt/msg/{msg_id}", func(t *testing.T, f *F) (string, string) {
			f.attempt(t)
			return f.app(t) + "/attempt/msg/" + f.msgID, ""
		}, 200},
		{"GET " + app + "/attempt/endpoint/{endpoint_id}", func(t *testing.T, f *F) (string, string) {
			f.attempt(t)
			return f.app(t) + "/attempt/endpoint/" + f.epID + "?with_msg=true", ""
		}, 200},
		{"GET " + msg + "/attempt/{attempt_id}", func(t *testing.T, f *F) (string, string) { return f.attempt(t), "" }, 200},
		{"GET " + msg + "/attempt/{attempt_id}/headers", func(t *testing.T, f *F) (string, string) {
			return f.attempt(t) + "/headers", ""
		}, 200},
		{"GET " + msg + "/endpoint", func(t *testing.T, f *F) (string, string) { return f.message(t) + "/endpoint", "" }, 200},
		{"GET " + ep + "/msg", func(t *testing.T, f *F) (string, string) { f.message(t); return f.endpoint(t) + "/msg", "" }, 200},
		{"GET " + ep + "/stats", func(t *testing.T, f *F) (string, string) { f.message(t); return f.endpoint(t) + "/stats", "" }, 200},
		{"POST " + msg + "/endpoint/{endpoint_id}/resend", func(t *testing.T, f *F) (string, string) {
			f.attempt(t)
			return f.message(t) + "/endpoint/" + f.epID + "/resend", ""
		}, 202},
		{"POST " + ep + "/recover", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/recover", `{"since":"` + f.since + `"}`
		}, 202},
		{"GET /api/v1/background-task/{task_id}", func(t *testing.T, f *F) (string, string) {
			return "/api/v1/background-task/" + f.task(t), ""
		}, 200},
		{"POST " + ep + "/bulk-replay", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/bulk-replay", `{"since":"` + f.since + `","eventTypes":["invoice.paid"]}`
		}, 202},
		{"POST " + ep + "/replay-missing", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/replay-missing", `{"since":"` + f.since + `"}`
		}, 202},
		{"POST " + ep + "/send-example", func(t *testing.T, f *F) (string, string) {
			return f.endpoint(t) + "/send-example", `{"eventType":"invoice.paid"}`
		}, 202},
		{"PUT " + ep + "/mtls", func(t *testing.T, f *F) (string, string) {
			f.mtls = true
			return f.endpoint(t) + "/mtls", jsonBody("identity", f.identity)
		}, 204},
		{"GET " + ep + "/mtls", func(t *testing.T, f *F) (string, string) { return f.withMTLS(t) + "/mtls", "" }, 200},
		{"GET " + ep + "/mtls-config", func(t *testing.T, f *F) (string, string) { return f.withMTLS(t) + "/mtls-config", "" }, 200},
		{"DELETE " + ep + "/mtls", func(t *testing.T, f *F) (string, string) {
			ep := f.withMTLS(t)
			f.mtls = false
			return ep + "/mtls", ""
		}, 204},
		{"PUT " + ep + "/ca", func(t *testing.T, f *F) (string, string) {
			f.ca = true
			return f.endpoint(t) + "/ca", jsonBody("cert", f.clientCA.PEM)
		}, 204},
		{"GET " + ep + "/ca", func(t *testing.T, f *F) (string, string) { return f.withCA(t) + "/ca", "" }, 200},
		{"PUT " + ep + "/oauth", func(t *testing.T, f *F) (string, string) {
			f.oauth = true
			return f.endpoint(t) + "/oauth", oauthBody
		}, 204},
		{"GET " + ep + "/oauth", func(t *testing.T, f *F) (string, string) { return f.withOAuth(t) + "/oauth", "" }, 200},
		{"GET " + ep + "/oauth-config", func(t *testing.T, f *F) (string, string) { return f.withOAuth(t) + "/oauth-config", "" }, 200},
		{"DELETE " + ep + "/oauth", func(t *testing.T, f *F) (string, string) {
			ep := f.withOAuth(t)
			f.oauth = false
			return ep + "/oauth", ""
		}, 204},
		{"GET /api/v1/background-task", func(t *testing.T, f *F) (string, string) {
			f.task(t)
			return "/api/v1/background-task?limit=2", ""
		}, 200},
		{"POST /api/v1/stats/usage/app", func(t *testing.T, f *F) (string, string) {
			f.app(t)
			return "/api/v1/stats/usage/app", `{"since":"` + f.since + `","until":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","appIds":["acme","nope"]}`
		}, 202},
		{"PUT /api/v1/stats/usage/event-types", fixed("/api/v1/stats/usage/event-types", ""), 202},
		{"DELETE " + msg + "/attempt/{attempt_id}/content", func(t *testing.T, f *F) (string, string) {
			return f.attempt(t) + "/content", ""
		}, 204},
		{"DELETE " + msg + "/content", func(t *testing.T, f *F) (string, string) { return f.message(t) + "/content", "" }, 204},
		{"POST " + app + "/msg/bulk-expunge", func(t *testing.T, f *F) (string, string) {
			m := f.message(t)
			return f.app(t) + "/msg/bulk-expunge", `{"ids":["` + m[strings.LastIndex(m, "/")+1:] + `","no-such-message"]}`
		}, 200},
		{"POST " + app + "/msg/expunge-all-contents", func(t *testing.T, f *F) (string, string) {
			f.message(t)
			return f.app(t) + "/msg/expunge-all-contents", ""
		}, 202},
		{"POST /api/v1/auth/app-portal-access/{app_id}", func(t *testing.T, f *F) (string, string) {
			f.app(t)
			return "/api/v1/auth/app-portal-access/acme", `{}`
		}, 200},
		{"POST /api/v1/auth/app/{app_id}/expire-all", func(t *testing.T, f *F) (string, string) {
			f.app(t)
			return "/api/v1/auth/app/acme/expire-all", `{}`
		}, 204},
		{"POST " + ops, func(t *testing.T, f *F) (string, string) {
			return ops, `{"url":"` + f.rcv.URL + `","uid":"ops","eventTypes":["endpoint.disabled"],"metadata":{"k":"v"}}`
		}, 201},
		{"GET " + ops, func(t *testing.T, f *F) (string, string) { f.opsEndpoint(t); return ops + "?limit=5", "" }, 200},
		{"GET " + ops + "/{endpoint_id}", func(t *testing.T, f *F) (string, string) { return f.opsEndpoint(t), "" }, 200},
		{"PUT " + ops + "/{endpoint_id}", func(t *testing.T, f *F) (string, string) {
			return f.opsEndpoint(t), `{"url":"` + f.rcv.URL + `","description":"ops"}`
		}, 200},
		{"PUT " + ops + "/{endpoint_id}/headers", func(t *testing.T, f *F) (string, string) {
			return f.opsEndpoint(t) + "/headers", `{"headers":{"X-Ops":"1"}}`
		}, 204},
		{"GET " + ops + "/{endpoint_id}/headers", func(t *testing.T, f *F) (string, string) {
			return f.opsEndpoint(t) + "/headers", ""
		}, 200},
		{"GET " + ops + "/{endpoint_id}/secret", func(t *testing.T, f *F) (string, string) {
			return f.opsEndpoint(t) + "/secret", ""
		}, 200},
		{"POST " + ops + "/{endpoint_id}/secret/rotate", func(t *testing.T, f *F) (string, string) {
			return f.opsEndpoint(t) + "/secret/rotate", `{}`
		}, 204},
		{"DELETE " + ops + "/{endpoint_id}", func(t *testing.T, f *F) (string, string) {
			id := created(t, f.must(t, 201, "POST", ops, `{"url":"`+f.rcv.URL+`","uid":"ops-doomed"}`))
			return ops + "/" + id, ""
		}, 204},
		{"DELETE " + et, func(t *testing.T, f *F) (string, string) {
			f.must(t, 201, "PUT", "/api/v1/event-type/user.deleted", `{"description":"doomed"}`)
			return "/api/v1/event-type/user.deleted", ""
		}, 204},
		{"DELETE " + ep, func(t *testing.T, f *F) (string, string) {
			f.must(t, 201, "PUT", f.app(t)+"/endpoint/doomed", `{"url":"https://example.com/doomed"}`)
			return f.app(t) + "/endpoint/doomed", ""
		}, 204},
		{"DELETE " + app, func(t *testing.T, f *F) (string, string) {
			f.must(t, 201, "PUT", "/api/v1/app/doomed", `{"name":"Doomed"}`)
			return "/api/v1/app/doomed", ""
		}, 204},
	}
}

// TestContract calls every operation hookd implements that the SDK contract has, on a
// real server, and checks the status code is one the contract gives for success and
// the answer has the contract's shape (required fields, types, enums); it also checks
// the error bodies. Each subtest makes what it reads, so each passes alone.
func TestContract(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	own, err := loadOwn()
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(rcv.Close)
	clientCA := hookdtest.NewCA(t, "clients")
	f := &contractFixture{
		ts: ts, rcv: rcv, clientCA: clientCA,
		identity: clientCA.Client(t, "hookd", time.Now().Add(time.Hour)),
		since:    time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
	}
	for _, tc := range contractCases() {
		method, _, _ := strings.Cut(tc.route, " ")
		t.Run(tc.route, func(t *testing.T) {
			op := c.ops[tc.route]
			if op == nil {
				t.Fatalf("%s is not an operation of the contract", tc.route)
			}
			path, reqBody := tc.req(t, f)
			code, body := ts.raw(t, method, path, reqBody)
			success := op.success()
			ref, ok := success[code]
			if !ok || code != tc.status {
				t.Fatalf("%s %s: status %d (%s); want %d, and the contract has %v", method, path, code, truncate(body), tc.status, success)
			}
			if ref == "" {
				if len(body) != 0 {
					t.Fatalf("%s %s: %d with body %s, the contract has none", method, path, code, truncate(body))
				}
			} else if err := c.validate(ref, body); err != nil {
				t.Fatalf("%s %s: answer %s does not match %s: %v", method, path, truncate(body), ref, err)
			}
			// hookd's own document describes the same answer, extensions included.
			if ownOp := own.ops[tc.route]; ownOp == nil {
				t.Errorf("%s is not in hookd's openapi.json", tc.route)
			} else if ownRef, ok := ownOp.success()[code]; !ok {
				t.Errorf("hookd's openapi.json has no %d answer for %s", code, tc.route)
			} else if ownRef != "" {
				if err := own.validate(ownRef, body); err != nil {
					t.Errorf("%s %s: answer %s does not match hookd's openapi.json %s: %v", method, path, truncate(body), ownRef, err)
				}
			}
		})
	}
	// The token endpoint with a fresh token (logout expires the token it is called with).
	t.Run("POST /api/v1/auth/logout", func(t *testing.T) {
		code, body := ts.raw(t, "POST", "/api/v1/auth/app-portal-access/"+path.Base(f.app(t)), `{}`)
		var access struct{ Token string }
		if code != 200 || json.Unmarshal(body, &access) != nil || access.Token == "" {
			t.Fatalf("app portal access: %d %s", code, body)
		}
		req, err := http.NewRequest("POST", ts.url+"/api/v1/auth/logout", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+access.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, ok := c.ops["POST /api/v1/auth/logout"].success()[resp.StatusCode]; !ok {
			t.Fatalf("logout: status %d, not one the contract has", resp.StatusCode)
		}
	})
	t.Run("errors", func(t *testing.T) {
		msgs := f.app(t) + "/msg"
		f.message(t) // eventId e1 is taken
		for _, tt := range []struct{ method, path, body, ref string }{
			{"GET", "/api/v1/app/app_nope", "", "#/components/schemas/HttpErrorOut"},
			{"POST", "/api/v1/app", `{"name":"x","colour":"red"}`, "#/components/schemas/HTTPValidationError"},
			{"POST", msgs, `{"eventType":"a","payload":{},"eventId":"e1"}`, "#/components/schemas/HttpErrorOut"},
			{"GET", "/api/v1/app?limit=x", "", "#/components/schemas/HTTPValidationError"},
		} {
			_, body := ts.raw(t, tt.method, tt.path, tt.body)
			if err := c.validate(tt.ref, body); err != nil {
				t.Errorf("%s %s: error body %s does not match %s: %v", tt.method, tt.path, body, tt.ref, err)
			}
		}
	})
}

// TestContractCoversRoutes fails when hookd registers an operation of the contract
// that TestContract has no case for.
func TestContractCoversRoutes(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{"POST /api/v1/auth/logout": true}
	for _, tc := range contractCases() {
		covered[tc.route] = true
	}
	for _, r := range api.New(api.Config{}).Routes() {
		if c.ops[r] != nil && !covered[r] {
			t.Errorf("%s is in the contract, but TestContract has no case for it: add one to server/contract_test.go", r)
		}
	}
}

// waitFor waits for cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	hookdtest.Eventually(t, 30*time.Second, what, cond)
}

// TestContractValidator checks that the contract check can fail: on a missing
// required field, a wrong type, a value outside an enum, and not on a nullable null.
func TestContractValidator(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	const ref = "#/components/schemas/MessageAttemptOut"
	good := `{"id":"atmpt_0357Aa7hQ2J8gJQe0wNnJr","msgId":"msg_0357Aa7hQ2J8gJQe0wNnJr","endpointId":"ep_0357Aa7hQ2J8gJQe0wNnJr",
		"url":"https://e.com","response":"","responseStatusCode":200,"responseDurationMs":1,"status":0,"statusText":"success",
		"triggerType":0,"timestamp":"2026-01-01T00:00:00Z"}`
	if err := c.validate(ref, []byte(good)); err != nil {
		t.Fatalf("a valid attempt is refused: %v", err)
	}
	for name, bad := range map[string]string{
		"missing statusText":  strings.Replace(good, `"statusText":"success",`, "", 1),
		"status not a number": strings.Replace(good, `"status":0`, `"status":"0"`, 1),
		"unknown statusText":  strings.Replace(good, `"statusText":"success"`, `"statusText":"great"`, 1),
		"not an attempt ID":   strings.Replace(good, `"id":"atmpt_`, `"id":"msg_`, 1),
	} {
		if err := c.validate(ref, []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := c.validate("#/components/schemas/ListResponse_ApplicationOut_", []byte(`{"data":[],"done":true,"iterator":null}`)); err != nil {
		t.Errorf("a null iterator (nullable) is refused: %v", err)
	}
}

package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
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
// registers it, path the request's.
type contractCase struct {
	route, path, body string
	status            int
	// then, if set, reads what the answer created for the cases after it.
	then func(body []byte)
}

// TestContract calls every operation hookd implements that the SDK contract has, on a
// real server, and checks the status code is one the contract gives for success and
// the answer has the contract's shape (required fields, types, enums); it also checks
// the error bodies. An operation added to hookd without a case here fails the test.
func TestContract(t *testing.T) {
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

	var appID, epID, msgID, attemptID, taskID, opsID string
	id := func(dst *string) func([]byte) {
		return func(b []byte) {
			var v struct{ ID string }
			if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
				t.Fatalf("answer without an id: %s", b)
			}
			*dst = v.ID
		}
	}
	const (
		app = "/api/v1/app/{app_id}"
		ep  = app + "/endpoint/{endpoint_id}"
		msg = app + "/msg/{msg_id}"
		et  = "/api/v1/event-type/{event_type_name}"
		ops = "/api/v1/operational-webhook/endpoint"
	)
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	clientCA := hookdtest.NewCA(t, "clients")
	identity := clientCA.Client(t, "hookd", time.Now().Add(time.Hour))
	// Each case's path is built when it runs, from the IDs made by the cases before.
	steps := []func() contractCase{
		func() contractCase {
			return contractCase{route: "GET /api/v1/health", path: "/api/v1/health", status: 204}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/app", path: "/api/v1/app", body: `{"name":"Acme","uid":"acme","throttleRate":5,"metadata":{"k":"v"}}`, status: 201, then: id(&appID)}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/app", path: "/api/v1/app?get_if_exists=true", body: `{"name":"Acme","uid":"acme"}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET /api/v1/app", path: "/api/v1/app?limit=1", status: 200}
		},
		func() contractCase { return contractCase{route: "GET " + app, path: "/api/v1/app/acme", status: 200} },
		func() contractCase {
			return contractCase{route: "PUT " + app, path: "/api/v1/app/acme", body: `{"name":"Acme","uid":"acme","throttleRate":5}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + app, path: "/api/v1/app/other", body: `{"name":"Other"}`, status: 201}
		},
		func() contractCase {
			return contractCase{route: "PATCH " + app, path: "/api/v1/app/acme", body: `{"metadata":{"k":"w"}}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/event-type", path: "/api/v1/event-type", body: `{"name":"invoice.paid","description":"paid","schemas":{"1":{"type":"object"}}}`, status: 201}
		},
		func() contractCase {
			return contractCase{route: "GET /api/v1/event-type", path: "/api/v1/event-type", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + et, path: "/api/v1/event-type/invoice.paid", status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + et, path: "/api/v1/event-type/invoice.paid", body: `{"description":"paid!","schemas":{"1":{"type":"object","examples":[{"invoice":"in_1"}]}}}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + et, path: "/api/v1/event-type/user.created", body: `{"description":"new"}`, status: 201}
		},
		func() contractCase {
			return contractCase{route: "PUT " + et + "/retry-schedule", path: "/api/v1/event-type/invoice.paid/retry-schedule",
				body: `{"retrySchedule":[{"secs":5,"nanos":0},{"secs":60,"nanos":0}]}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + et + "/retry-schedule", path: "/api/v1/event-type/invoice.paid/retry-schedule", status: 200}
		},
		func() contractCase {
			return contractCase{route: "PATCH " + et, path: "/api/v1/event-type/invoice.paid", body: `{"deprecated":true}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/event-type/import/openapi", path: "/api/v1/event-type/import/openapi",
				body: `{"spec":{"openapi":"3.1.0","webhooks":{"pet.new":{"post":{"description":"new pet"}}}}}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/event-type/export/openapi", path: "/api/v1/event-type/export/openapi", status: 202}
		},
		func() contractCase {
			return contractCase{route: "POST " + app + "/endpoint", path: "/api/v1/app/acme/endpoint",
				body: `{"url":"` + rcv.URL + `","eventTypes":["invoice.paid"],"channels":["eu"],"throttleRate":9,"metadata":{"t":"b"},"headers":{"X-A":"1"}}`, status: 201, then: id(&epID)}
		},
		func() contractCase {
			return contractCase{route: "GET " + app + "/endpoint", path: "/api/v1/app/acme/endpoint", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep, path: "/api/v1/app/acme/endpoint/" + epID, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ep, path: "/api/v1/app/acme/endpoint/" + epID, body: `{"url":"` + rcv.URL + `","eventTypes":["invoice.paid"]}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ep, path: "/api/v1/app/acme/endpoint/spare", body: `{"url":"https://example.com/spare"}`, status: 201}
		},
		func() contractCase {
			return contractCase{route: "PATCH " + ep, path: "/api/v1/app/acme/endpoint/" + epID, body: `{"description":"main"}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ep + "/headers", path: "/api/v1/app/acme/endpoint/" + epID + "/headers", body: `{"headers":{"X-A":"1","X-B":"2"}}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "PATCH " + ep + "/headers", path: "/api/v1/app/acme/endpoint/" + epID + "/headers", body: `{"headers":{"X-C":"3"},"deleteHeaders":["X-B"]}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/headers", path: "/api/v1/app/acme/endpoint/" + epID + "/headers", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/secret", path: "/api/v1/app/acme/endpoint/" + epID + "/secret", status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST " + ep + "/secret/rotate", path: "/api/v1/app/acme/endpoint/" + epID + "/secret/rotate", body: `{}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "POST " + app + "/msg", path: "/api/v1/app/acme/msg", body: `{"eventType":"invoice.paid","eventId":"e1","payload":{"a":1},"channels":["eu"],"tags":["t"]}`, status: 202, then: id(&msgID)}
		},
		func() contractCase {
			return contractCase{route: "POST " + app + "/msg", path: "/api/v1/app/acme/msg?with_content=false", body: `{"eventType":"invoice.paid","payload":{}}`, status: 202}
		},
		func() contractCase {
			return contractCase{route: "POST " + app + "/msg/precheck/active", path: "/api/v1/app/acme/msg/precheck/active", body: `{"eventType":"invoice.paid","channels":["eu"]}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + app + "/msg", path: "/api/v1/app/acme/msg?limit=1", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + msg, path: "/api/v1/app/acme/msg/" + msgID, status: 200}
		},
		func() contractCase {
			// The first attempt, once made, is the one the attempt cases read.
			waitFor(t, "an attempt", func() bool {
				code, b := ts.raw(t, "GET", "/api/v1/app/acme/attempt/msg/"+msgID, "")
				var v struct{ Data []struct{ ID string } }
				if code == 200 && json.Unmarshal(b, &v) == nil && len(v.Data) > 0 {
					attemptID = v.Data[0].ID
				}
				return attemptID != ""
			})
			return contractCase{route: "GET " + app + "/attempt/msg/{msg_id}", path: "/api/v1/app/acme/attempt/msg/" + msgID, status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + app + "/attempt/endpoint/{endpoint_id}", path: "/api/v1/app/acme/attempt/endpoint/" + epID + "?with_msg=true", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + msg + "/attempt/{attempt_id}", path: "/api/v1/app/acme/msg/" + msgID + "/attempt/" + attemptID, status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + msg + "/attempt/{attempt_id}/headers", path: "/api/v1/app/acme/msg/" + msgID + "/attempt/" + attemptID + "/headers", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + msg + "/endpoint", path: "/api/v1/app/acme/msg/" + msgID + "/endpoint", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/msg", path: "/api/v1/app/acme/endpoint/" + epID + "/msg", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/stats", path: "/api/v1/app/acme/endpoint/" + epID + "/stats", status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST " + msg + "/endpoint/{endpoint_id}/resend", path: "/api/v1/app/acme/msg/" + msgID + "/endpoint/" + epID + "/resend", status: 202}
		},
		func() contractCase {
			return contractCase{route: "POST " + ep + "/recover", path: "/api/v1/app/acme/endpoint/" + epID + "/recover", body: `{"since":"` + since + `"}`, status: 202, then: id(&taskID)}
		},
		func() contractCase {
			return contractCase{route: "GET /api/v1/background-task/{task_id}", path: "/api/v1/background-task/" + taskID, status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST " + ep + "/bulk-replay", path: "/api/v1/app/acme/endpoint/" + epID + "/bulk-replay",
				body: `{"since":"` + since + `","eventTypes":["invoice.paid"]}`, status: 202}
		},
		func() contractCase {
			return contractCase{route: "POST " + ep + "/replay-missing", path: "/api/v1/app/acme/endpoint/" + epID + "/replay-missing", body: `{"since":"` + since + `"}`, status: 202}
		},
		func() contractCase {
			return contractCase{route: "POST " + ep + "/send-example", path: "/api/v1/app/acme/endpoint/" + epID + "/send-example", body: `{"eventType":"invoice.paid"}`, status: 202}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ep + "/mtls", path: "/api/v1/app/acme/endpoint/" + epID + "/mtls", body: jsonBody("identity", identity), status: 204}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/mtls", path: "/api/v1/app/acme/endpoint/" + epID + "/mtls", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/mtls-config", path: "/api/v1/app/acme/endpoint/" + epID + "/mtls-config", status: 200}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + ep + "/mtls", path: "/api/v1/app/acme/endpoint/" + epID + "/mtls", status: 204}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ep + "/ca", path: "/api/v1/app/acme/endpoint/" + epID + "/ca", body: jsonBody("cert", clientCA.PEM), status: 204}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/ca", path: "/api/v1/app/acme/endpoint/" + epID + "/ca", status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ep + "/oauth", path: "/api/v1/app/acme/endpoint/" + epID + "/oauth",
				body: `{"grantType":"clientCredentials","authMethod":"clientSecretBasic","clientId":"c","clientSecret":"s","tokenUrl":"https://auth.example/token","scopes":["a"]}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/oauth", path: "/api/v1/app/acme/endpoint/" + epID + "/oauth", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ep + "/oauth-config", path: "/api/v1/app/acme/endpoint/" + epID + "/oauth-config", status: 200}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + ep + "/oauth", path: "/api/v1/app/acme/endpoint/" + epID + "/oauth", status: 204}
		},
		func() contractCase {
			return contractCase{route: "GET /api/v1/background-task", path: "/api/v1/background-task?limit=2", status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/stats/usage/app", path: "/api/v1/stats/usage/app", body: `{"since":"` + since + `","until":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","appIds":["acme","nope"]}`, status: 202}
		},
		func() contractCase {
			return contractCase{route: "PUT /api/v1/stats/usage/event-types", path: "/api/v1/stats/usage/event-types", status: 202}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + msg + "/attempt/{attempt_id}/content", path: "/api/v1/app/acme/msg/" + msgID + "/attempt/" + attemptID + "/content", status: 204}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + msg + "/content", path: "/api/v1/app/acme/msg/" + msgID + "/content", status: 204}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/auth/app-portal-access/{app_id}", path: "/api/v1/auth/app-portal-access/acme", body: `{}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST /api/v1/auth/app/{app_id}/expire-all", path: "/api/v1/auth/app/acme/expire-all", body: `{}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "POST " + ops, path: ops, body: `{"url":"` + rcv.URL + `","uid":"ops","eventTypes":["endpoint.disabled"],"metadata":{"k":"v"}}`, status: 201, then: id(&opsID)}
		},
		func() contractCase { return contractCase{route: "GET " + ops, path: ops + "?limit=5", status: 200} },
		func() contractCase {
			return contractCase{route: "GET " + ops + "/{endpoint_id}", path: ops + "/" + opsID, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ops + "/{endpoint_id}", path: ops + "/" + opsID, body: `{"url":"` + rcv.URL + `","description":"ops"}`, status: 200}
		},
		func() contractCase {
			return contractCase{route: "PUT " + ops + "/{endpoint_id}/headers", path: ops + "/" + opsID + "/headers", body: `{"headers":{"X-Ops":"1"}}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "GET " + ops + "/{endpoint_id}/headers", path: ops + "/" + opsID + "/headers", status: 200}
		},
		func() contractCase {
			return contractCase{route: "GET " + ops + "/{endpoint_id}/secret", path: ops + "/" + opsID + "/secret", status: 200}
		},
		func() contractCase {
			return contractCase{route: "POST " + ops + "/{endpoint_id}/secret/rotate", path: ops + "/" + opsID + "/secret/rotate", body: `{}`, status: 204}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + ops + "/{endpoint_id}", path: ops + "/" + opsID, status: 204}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + et, path: "/api/v1/event-type/user.created", status: 204}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + ep, path: "/api/v1/app/acme/endpoint/spare", status: 204}
		},
		func() contractCase {
			return contractCase{route: "DELETE " + app, path: "/api/v1/app/other", status: 204}
		},
	}
	covered := map[string]bool{}
	for _, step := range steps {
		tc := step()
		method, _, _ := strings.Cut(tc.route, " ")
		t.Run(tc.route, func(t *testing.T) {
			op := c.ops[tc.route]
			if op == nil {
				t.Fatalf("%s is not an operation of the contract", tc.route)
			}
			covered[tc.route] = true
			code, body := ts.raw(t, method, tc.path, tc.body)
			success := op.success()
			ref, ok := success[code]
			if !ok || code != tc.status {
				t.Fatalf("%s %s: status %d (%s); want %d, and the contract has %v", method, tc.path, code, truncate(body), tc.status, success)
			}
			if ref == "" {
				if len(body) != 0 {
					t.Fatalf("%s %s: %d with body %s, the contract has none", method, tc.path, code, truncate(body))
				}
			} else if err := c.validate(ref, body); err != nil {
				t.Fatalf("%s %s: answer %s does not match %s: %v", method, tc.path, truncate(body), ref, err)
			}
			// hookd's own document describes the same answer, extensions included.
			if ownOp := own.ops[tc.route]; ownOp == nil {
				t.Errorf("%s is not in hookd's openapi.json", tc.route)
			} else if ownRef, ok := ownOp.success()[code]; !ok {
				t.Errorf("hookd's openapi.json has no %d answer for %s", code, tc.route)
			} else if ownRef != "" {
				if err := own.validate(ownRef, body); err != nil {
					t.Errorf("%s %s: answer %s does not match hookd's openapi.json %s: %v", method, tc.path, truncate(body), ownRef, err)
				}
			}
			if tc.then != nil {
				tc.then(body)
			}
		})
	}
	// The token endpoint with a fresh token (logout expires the token it is called with).
	t.Run("POST /api/v1/auth/logout", func(t *testing.T) {
		code, body := ts.raw(t, "POST", "/api/v1/auth/app-portal-access/acme", `{}`)
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
		covered["POST /api/v1/auth/logout"] = true
	})
	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct{ method, path, body, ref string }{
			{"GET", "/api/v1/app/app_nope", "", "#/components/schemas/HttpErrorOut"},
			{"POST", "/api/v1/app", `{"name":"x","colour":"red"}`, "#/components/schemas/HTTPValidationError"},
			{"POST", "/api/v1/app/acme/msg", `{"eventType":"a","payload":{},"eventId":"e1"}`, "#/components/schemas/HttpErrorOut"},
			{"GET", "/api/v1/app?limit=x", "", "#/components/schemas/HTTPValidationError"},
		} {
			_, body := ts.raw(t, tt.method, tt.path, tt.body)
			if err := c.validate(tt.ref, body); err != nil {
				t.Errorf("%s %s: error body %s does not match %s: %v", tt.method, tt.path, body, tt.ref, err)
			}
		}
	})
	for _, r := range api.New(api.Config{}).Routes() {
		if c.ops[r] != nil && !covered[r] {
			t.Errorf("%s is in the contract, but TestContract has no case for it: add one to server/contract_test.go", r)
		}
	}
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
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

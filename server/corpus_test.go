package server_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// hostileSegments are path parameter values: real ones, unknown ones, and text no
// object can be named by.
var hostileSegments = []string{
	"acme", "ep1", "a.b", "app_0000000000000000000000", "msg_zzz", "nope",
	".", "..", "%00", "a%00b", "%ff", "%c3%28", "%2e%2e", "%2F", "%20", "%25",
	strings.Repeat("a", 300), "-", "_", "é", "%E2%80%AE",
}

// hostileQueries are query strings every list and read accepts or refuses with 4xx.
var hostileQueries = []string{
	"", "?limit=0", "?limit=-1", "?limit=99999999999999999999", "?limit=abc", "?iterator=%00",
	"?iterator=%ff", "?iterator=" + strings.Repeat("z", 300), "?order=sideways", "?before=yesterday",
	"?after=2026-13-45T99:99:99Z", "?status=9", "?status_code_class=7", "?with_content=maybe",
	"?event_types=" + strings.Repeat("a,", 1500), "?channel=%00", "?expunge=perhaps",
	"?get_if_exists=2", "?since=x", "?until=%ff",
}

// hostileBodies are request bodies: malformed, mistyped, out of range, huge, hostile
// text. Each route must answer them with a 2xx or a 4xx, never a 5xx.
var hostileBodies = []string{
	``, `{`, `}`, `[]`, `null`, `0`, `"x"`, `{"a":}`, `{"name":1}`, `{"name":null}`,
	`{"name":"a\u0000"}`, `{"name":"\ud800"}`, `{"uid":"..","name":"x"}`, `{"url":"javascript:alert(1)"}`,
	`{"url":"http://[::1"}`, `{"url":"http://169.254.169.254/"}`, `{"timeoutMs":1e400}`,
	`{"timeoutMs":-9223372036854775808}`, `{"rateLimit":2147483648}`, `{"rateLimit":-1}`,
	`{"eventType":"a","payload":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"eventType":"a","payload":{}}`, `{"eventType":"","payload":{}}`, `{"eventType":"a\u0000","payload":{}}`,
	`{"filterTypes":["` + strings.Repeat("x", 5000) + `"]}`, `{"metadata":{"k":1}}`, `{"metadata":[]}`,
	`{"headers":{"X":"a\r\nB: c"}}`, `{"headers":{"":"v"}}`, `{"headers":{"Host":"evil"}}`,
	`{"key":"whsec_notbase64!"}`, `{"key":"` + strings.Repeat("A", 100000) + `"}`,
	`{"since":"not a time"}`, `{"since":"9999-12-31T23:59:59Z"}`, `{"retrySchedule":"99999999999d"}`,
	`{"retrySchedule":"exponential:1s,0s,5"}`, `{"schemas":{"1":{"type":"nope"}}}`,
	`{"name":"a","name":"b"}`, `{"NAME":"x"}`, "{\"name\":\"\xff\xfe\"}",
	`{"deliverAt":"1900-01-01T00:00:00Z","eventType":"a","payload":{}}`,
}

// TestBadInputCorpus is the fault suite's bad-input part: every route of hookd's
// OpenAPI document, with hostile path parameters, queries and bodies, through the real
// server on both stores. Any 5xx fails. It sends a fixed share of the combinations in
// CI; HOOKD_TEST_LONG=1 sends every one.
func TestBadInputCorpus(t *testing.T) {
	eachStore(t, func(t *testing.T, ts *testServer) {
		api := &faultAPI{t: t, ts: ts}
		api.id("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
		api.id("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/h","uid":"ep1"}`)
		if code, b := ts.raw(t, "POST", "/api/v1/event-type", `{"name":"a.b","description":"x"}`); code != http.StatusCreated {
			t.Fatalf("create event type: %d %s", code, clip(b))
		}

		code, doc := ts.raw(t, "GET", "/openapi.json", "")
		if code != http.StatusOK {
			t.Fatalf("GET /openapi.json = %d", code)
		}
		var spec struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(doc, &spec); err != nil {
			t.Fatal(err)
		}
		type op struct{ method, path string }
		var ops []op
		for path, methods := range spec.Paths {
			for m := range methods {
				switch m {
				case "get", "post", "put", "patch", "delete":
					ops = append(ops, op{strings.ToUpper(m), path})
				}
			}
		}
		sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
		param := regexp.MustCompile(`\{[^}]+\}`)
		rng := rand.New(rand.NewPCG(12, 34))
		perOp := 40
		if longFaults() {
			perOp = len(hostileSegments) * len(hostileBodies)
		}
		sent, statuses := 0, map[int]int{}
		for _, o := range ops {
			for i := range perOp {
				path := param.ReplaceAllStringFunc(o.path, func(string) string {
					if longFaults() {
						return hostileSegments[(i/len(hostileBodies))%len(hostileSegments)]
					}
					return hostileSegments[rng.IntN(len(hostileSegments))]
				})
				path += hostileQueries[rng.IntN(len(hostileQueries))]
				body := ""
				if o.method != "GET" && o.method != "DELETE" {
					body = hostileBodies[i%len(hostileBodies)]
					if !longFaults() {
						body = hostileBodies[rng.IntN(len(hostileBodies))]
					}
				}
				code, b := ts.raw(t, o.method, path, body)
				sent++
				statuses[code]++
				if code >= 500 {
					t.Errorf("%s %s with body %s = %d %s", o.method, clip([]byte(path)), clip([]byte(body)), code, clip(b))
				}
			}
		}
		if !t.Failed() {
			t.Logf("bad-input corpus: %d requests over %d operations, no 5xx (statuses %v)", sent, len(ops), statuses)
		}
	})
}

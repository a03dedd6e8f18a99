package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// validation is a 422 body.
type validation struct {
	Detail []struct {
		Loc  []string `json:"loc"`
		Msg  string   `json:"msg"`
		Type string   `json:"type"`
	} `json:"detail"`
}

// TestPayloadFilterValidation refuses bad payload filters on endpoint create, update
// and patch with a 422 that says where in the filter the problem is.
func TestPayloadFilterValidation(t *testing.T) {
	ts := startServer(t)
	code, out := ts.raw(t, "POST", "/api/v1/app", `{"name":"a"}`)
	var app struct{ ID string }
	if code != 201 || json.Unmarshal(out, &app) != nil {
		t.Fatalf("create app: %d %s", code, out)
	}
	code, out = ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"https://example.com/ok","payloadFilter":{"path":"a","eq":1}}`)
	var ep struct{ ID string }
	if code != 201 || json.Unmarshal(out, &ep) != nil {
		t.Fatalf("create endpoint: %d %s", code, out)
	}
	epPath := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	tests := []struct {
		name   string
		filter string
		loc    []string
		msg    string
	}{
		{"not an object", `"amount>100"`, []string{"body", "payloadFilter"}, "must be an object"},
		{"no operator", `{"path":"data.amount"}`, []string{"body", "payloadFilter"}, "exactly one operator"},
		{"unknown operator", `{"path":"data.amount","greater":1}`, []string{"body", "payloadFilter", "greater"}, `unknown key "greater"`},
		{"bad comparison", `{"and":[{"path":"a","eq":1},{"path":"b","gt":[1]}]}`, []string{"body", "payloadFilter", "and", "1", "gt"}, "number or a string"},
		{"empty in", `{"not":{"path":"c","in":[]}}`, []string{"body", "payloadFilter", "not", "in"}, "between 1 and 256"},
		{"bad path", `{"path":"a..b","exists":true}`, []string{"body", "payloadFilter", "path"}, "empty segment"},
		{"too deep", strings.Repeat(`{"not":`, 8) + `{"path":"a","eq":1}` + strings.Repeat(`}`, 8), nil, "at most 7 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []struct{ method, path, body string }{
				{"POST", "/api/v1/app/" + app.ID + "/endpoint", `{"url":"https://example.com/x","payloadFilter":` + tt.filter + `}`},
				{"PUT", epPath, `{"url":"https://example.com/x","payloadFilter":` + tt.filter + `}`},
				{"PATCH", epPath, `{"payloadFilter":` + tt.filter + `}`},
				{"POST", "/api/v1/filter/test", `{"filter":` + tt.filter + `,"payload":{}}`},
			} {
				code, out := ts.raw(t, call.method, call.path, call.body)
				var v validation
				if code != 422 || json.Unmarshal(out, &v) != nil || len(v.Detail) != 1 {
					t.Errorf("%s %s: %d %s, want one 422 detail", call.method, call.path, code, out)
					continue
				}
				d := v.Detail[0]
				loc := tt.loc
				if strings.HasSuffix(call.path, "/filter/test") && loc != nil {
					loc = append([]string{"body", "filter"}, loc[2:]...)
				}
				if loc != nil && !slices.Equal(d.Loc, loc) {
					t.Errorf("%s %s: loc %q, want %q", call.method, call.path, d.Loc, loc)
				}
				if !strings.Contains(d.Msg, tt.msg) || d.Type != "value_error.filter" {
					t.Errorf("%s %s: detail %+v, want a value_error.filter saying %q", call.method, call.path, d, tt.msg)
				}
			}
		})
	}
	// Nothing refused changed the endpoint.
	code, out = ts.raw(t, "GET", epPath, "")
	if code != 200 || !strings.Contains(string(out), `"payloadFilter":{"path":"a","eq":1}`) {
		t.Fatalf("endpoint after refused changes: %d %s", code, out)
	}
}

// TestPayloadFilterFanOut sends messages to endpoints with and without payload
// filters and checks that each real receiver gets exactly the messages its filter
// matches.
func TestPayloadFilterFanOut(t *testing.T) {
	ts := startServer(t)
	var mu sync.Mutex
	got := map[string][]string{} // receiver path → "n" of each payload received
	arrived := make(chan struct{}, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p struct{ N string }
		_ = json.Unmarshal(b, &p)
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], p.N)
		mu.Unlock()
		arrived <- struct{}{}
	}))
	t.Cleanup(rcv.Close)

	post := func(path, body string, want int) []byte {
		t.Helper()
		return ts.expect(t, "POST", path, body, want)
	}
	var app struct{ ID string }
	_ = json.Unmarshal(post("/api/v1/app", `{"name":"a"}`, 201), &app)
	endpoints := map[string]string{ // receiver path → endpoint body
		"/all":     `{}`,
		"/big":     `{"payloadFilter":{"and":[{"path":"data.amount","gt":100},{"path":"data.currency","in":["EUR","USD"]}]}}`,
		"/live":    `{"payloadFilter":{"not":{"path":"/test","eq":true}}}`,
		"/paidbig": `{"filterTypes":["invoice.paid"],"payloadFilter":{"path":"data.amount","gte":500}}`,
		"/none":    `{"payloadFilter":{"path":"data.lines.0.sku","eq":"never"}}`,
	}
	epIDs := map[string]string{}
	for path, body := range endpoints {
		var ep struct {
			ID            string          `json:"id"`
			PayloadFilter json.RawMessage `json:"payloadFilter"`
		}
		body = `{"url":"` + rcv.URL + path + `",` + strings.TrimPrefix(body, "{")
		if body[len(body)-2] == ',' {
			body = body[:len(body)-2] + "}"
		}
		_ = json.Unmarshal(post("/api/v1/app/"+app.ID+"/endpoint", body, 201), &ep)
		epIDs[path] = ep.ID
		if path == "/all" && string(ep.PayloadFilter) != "null" {
			t.Errorf("endpoint without a filter answers payloadFilter %s, want null", ep.PayloadFilter)
		}
	}
	msgs := []struct {
		n, eventType, payload string
		to                    []string
	}{
		{"1", "invoice.paid", `{"n":"1","data":{"amount":250,"currency":"EUR"}}`, []string{"/all", "/big", "/live"}},
		{"2", "invoice.paid", `{"n":"2","data":{"amount":50,"currency":"EUR"}}`, []string{"/all", "/live"}},
		{"3", "invoice.paid", `{"n":"3","data":{"amount":500,"currency":"GBP"}}`, []string{"/all", "/live", "/paidbig"}},
		{"4", "invoice.failed", `{"n":"4","test":true,"data":{"amount":101.5,"currency":"USD"}}`, []string{"/all", "/big"}},
		{"5", "invoice.failed", `{"n":"5","data":{"amount":"900","currency":"USD"}}`, []string{"/all", "/live"}},
	}
	want := map[string][]string{}
	total := 0
	for _, m := range msgs {
		var out struct{ ID string }
		_ = json.Unmarshal(post("/api/v1/app/"+app.ID+"/msg", `{"eventType":"`+m.eventType+`","payload":`+m.payload+`}`, 202), &out)
		for _, to := range m.to {
			want[to] = append(want[to], m.n)
			total++
		}
		// The fan-out is committed with the message: its destinations are exactly the
		// matching endpoints.
		code, body := ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/msg/"+out.ID+"/endpoint", "")
		var dests struct{ Data []struct{ ID string } }
		_ = json.Unmarshal(body, &dests)
		var gotIDs, wantIDs []string
		for _, d := range dests.Data {
			gotIDs = append(gotIDs, d.ID)
		}
		for _, to := range m.to {
			wantIDs = append(wantIDs, epIDs[to])
		}
		slices.Sort(gotIDs)
		slices.Sort(wantIDs)
		if code != 200 || !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("message %s went to %v, want %v (%s)", m.n, gotIDs, wantIDs, strings.Join(m.to, " "))
		}
	}
	for range total {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("deliveries missing: got %v, want %v", got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for path := range endpoints {
		ns := got[path]
		slices.Sort(ns)
		if !slices.Equal(ns, want[path]) {
			t.Errorf("receiver %s got messages %v, want %v", path, ns, want[path])
		}
	}
}

// TestPayloadFilterRoundTrip shows the filter compact, keeps it on a PUT without it,
// and removes it with null.
func TestPayloadFilterRoundTrip(t *testing.T) {
	ts := startServer(t)
	do := func(method, path, body string, want int) string {
		t.Helper()
		return string(ts.expect(t, method, path, body, want))
	}
	var app, ep struct{ ID string }
	_ = json.Unmarshal([]byte(do("POST", "/api/v1/app", `{"name":"a"}`, 201)), &app)
	out := do("POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"https://example.com/h","payloadFilter": { "path" : "data.kind", "in" : [ "a", "b" ] }}`, 201)
	_ = json.Unmarshal([]byte(out), &ep)
	const compact = `"payloadFilter":{"path":"data.kind","in":["a","b"]}`
	if !strings.Contains(out, compact) {
		t.Fatalf("create answered %s, want %s", out, compact)
	}
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	if out := do("PUT", path, `{"url":"https://example.com/h2"}`, 200); !strings.Contains(out, compact) {
		t.Errorf("a PUT without payloadFilter answered %s, want the filter kept", out)
	}
	if out := do("PATCH", path, `{"payloadFilter":{"path":"x","exists":true}}`, 200); !strings.Contains(out, `"payloadFilter":{"path":"x","exists":true}`) {
		t.Errorf("PATCH answered %s", out)
	}
	if out := do("GET", path, "", 200); !strings.Contains(out, `"payloadFilter":{"path":"x","exists":true}`) {
		t.Errorf("GET after PATCH answered %s", out)
	}
	if out := do("PATCH", path, `{"payloadFilter":null}`, 200); !strings.Contains(out, `"payloadFilter":null`) {
		t.Errorf("PATCH null answered %s, want the filter removed", out)
	}
	do("PUT", path, `{"url":"https://example.com/h2","payloadFilter":{"path":"y","eq":null}}`, 200)
	if out := do("PUT", path, `{"url":"https://example.com/h2","payloadFilter":null}`, 200); !strings.Contains(out, `"payloadFilter":null`) {
		t.Errorf("PUT null answered %s, want the filter removed", out)
	}
}

// TestFilterTest tries filters on payloads through both test routes.
func TestFilterTest(t *testing.T) {
	ts := startServer(t)
	var app, ep, bare struct{ ID string }
	_, out := ts.raw(t, "POST", "/api/v1/app", `{"name":"a"}`)
	_ = json.Unmarshal(out, &app)
	_, out = ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"https://example.com/h","payloadFilter":{"path":"data.amount","gt":100}}`)
	_ = json.Unmarshal(out, &ep)
	_, out = ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"https://example.com/bare"}`)
	_ = json.Unmarshal(out, &bare)
	epTest := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/filter/test"
	tests := []struct {
		name, path, body string
		code             int
		want             string // part of the answer
	}{
		{"matches", "/api/v1/filter/test", `{"filter":{"path":"a.b","in":[1,2]},"payload":{"a":{"b":2.0}}}`, 200, `{"matches":true,"filter":{"path":"a.b","in":[1,2]}}`},
		{"does not match", "/api/v1/filter/test", `{"filter":{"or":[{"path":"a","lt":"m"},{"path":"b","exists":true}]},"payload":{"a":"z"}}`, 200, `"matches":false`},
		{"no filter", "/api/v1/filter/test", `{"payload":{}}`, 422, `"loc":["body","filter"]`},
		{"no payload", "/api/v1/filter/test", `{"filter":{"path":"a","eq":1}}`, 422, `"loc":["body","payload"]`},
		{"payload not an object", "/api/v1/filter/test", `{"filter":{"path":"a","eq":1},"payload":[1]}`, 422, `"loc":["body","payload"]`},
		{"unknown field", "/api/v1/filter/test", `{"filter":{"path":"a","eq":1},"payload":{},"x":1}`, 422, `"loc":["body","x"]`},
		{"endpoint's filter matches", epTest, `{"payload":{"data":{"amount":101}}}`, 200, `{"matches":true,"filter":{"path":"data.amount","gt":100}}`},
		{"endpoint's filter does not match", epTest, `{"payload":{"data":{"amount":100}}}`, 200, `"matches":false`},
		{"a filter instead of the endpoint's", epTest, `{"filter":{"path":"data.amount","lte":100},"payload":{"data":{"amount":100}}}`, 200, `{"matches":true,"filter":{"path":"data.amount","lte":100}}`},
		{"endpoint without a filter", "/api/v1/app/" + app.ID + "/endpoint/" + bare.ID + "/filter/test", `{"payload":{"x":1}}`, 200, `{"matches":true,"filter":null}`},
		{"missing endpoint", "/api/v1/app/" + app.ID + "/endpoint/ep_missing/filter/test", `{"payload":{"x":1}}`, 404, `not_found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := ts.raw(t, "POST", tt.path, tt.body)
			if code != tt.code || !strings.Contains(string(out), tt.want) {
				t.Errorf("POST %s %s: %d %s, want %d with %s", tt.path, tt.body, code, out, tt.code, tt.want)
			}
		})
	}
}

// TestPayloadFilterReplayMissing replays to an endpoint only the missed messages its
// payload filter matches: replay-missing fans out as accepting does.
func TestPayloadFilterReplayMissing(t *testing.T) {
	ts := startServer(t)
	post := func(path, body string, want int) []byte {
		t.Helper()
		return ts.expect(t, "POST", path, body, want)
	}
	var app, ep struct{ ID string }
	_ = json.Unmarshal(post("/api/v1/app", `{"name":"a"}`, 201), &app)
	// Disabled from the start (it receives nothing), then enabled and replayed to.
	_ = json.Unmarshal(post("/api/v1/app/"+app.ID+"/endpoint", `{"url":"https://example.com/h","disabled":true,
		"payloadFilter":{"path":"n","gte":2}}`, 201), &ep)
	var ids []string
	for n := range 4 {
		var m struct{ ID string }
		_ = json.Unmarshal(post("/api/v1/app/"+app.ID+"/msg", `{"eventType":"a.b","payload":{"n":`+strconv.Itoa(n)+`}}`, 202), &m)
		ids = append(ids, m.ID)
	}
	epPath := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	if code, out := ts.raw(t, "PATCH", epPath, `{"disabled":false}`); code != 200 {
		t.Fatalf("enable: %d %s", code, out)
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	var task struct{ ID string }
	_ = json.Unmarshal(post(epPath+"/replay-missing", `{"since":"`+since+`"}`, 202), &task)
	if done := waitTaskSDK(t, ts.client, task.ID); sent(done) != 2 {
		t.Fatalf("replay-missing = %+v, want 2 messages sent", done)
	}
	code, out := ts.raw(t, "GET", epPath+"/msg", "")
	var msgs struct{ Data []struct{ ID string } }
	_ = json.Unmarshal(out, &msgs)
	var got []string
	for _, m := range msgs.Data {
		got = append(got, m.ID)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids[2:]))
	if code != 200 || !slices.Equal(got, want) {
		t.Errorf("after replay-missing the endpoint has messages %v, want %v (n >= 2)", got, want)
	}
}

// TestPayloadFilterOperational applies an operational endpoint's payload filter to
// the operational events: they are accepted like messages.
func TestPayloadFilterOperational(t *testing.T) {
	ts := startServer(t)
	rcv := newOpsReceiver(t)
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	rcv.setSecret(secret)
	if code, out := ts.raw(t, "POST", "/api/v1/operational-webhook/endpoint", `{"url":"`+rcv.URL+`","secret":"`+secret+`",
		"payloadFilter":{"path":"data.endpointUid","eq":"watched"}}`); code != 201 || !strings.Contains(string(out), `"payloadFilter":{"path":"data.endpointUid","eq":"watched"}`) {
		t.Fatalf("create operational endpoint: %d %s", code, out)
	}
	do := func(method, path, body string, want int) {
		t.Helper()
		ts.expect(t, method, path, body, want)
	}
	do("POST", "/api/v1/app", `{"name":"a","uid":"acme"}`, 201)
	do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/other","uid":"other"}`, 201)
	do("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/watched","uid":"watched"}`, 201)
	do("PATCH", "/api/v1/app/acme/endpoint/other", `{"description":"x"}`, 200)
	do("PATCH", "/api/v1/app/acme/endpoint/watched", `{"description":"x"}`, 200)
	do("DELETE", "/api/v1/app/acme/endpoint/other", "", 204)
	do("DELETE", "/api/v1/app/acme/endpoint/watched", "", 204)
	// Only the watched endpoint's three events, though six were emitted.
	rcv.waitEvents(t, "endpoint.created", "endpoint.deleted", "endpoint.updated")
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// Who may call a route, as this test expects it, written independently of the
// server's own declarations: the test fails when the two disagree.
type want int

const (
	public       want = iota // everyone, without a token
	serverRead               // admin keys, read-only too
	serverWrite              // admin keys that may write
	anyRead                  // every valid token
	appRead                  // admin keys and tokens of the path's application
	appWrite                 // admin write keys and the application's tokens with the capability
	appAdmin                 // admin write keys only, inside one application
	appTokenOnly             // application tokens only (logout)
)

// routeAccess lists every route the server serves. A route served without an entry
// here fails the test: add it when adding a route.
var routeAccess = map[string]want{
	"GET /healthz":                public,
	"GET /readyz":                 public,
	"GET /metrics":                serverRead,
	"GET /api/v1/health":          public,
	"GET /openapi.json":           public,
	"GET /api/v1/egress-ips":      anyRead,
	"POST /api/v1/filter/test":    anyRead,
	"GET /api/v1/app":             serverRead,
	"POST /api/v1/app":            serverWrite,
	"GET /api/v1/app/{app_id}":    appRead,
	"PUT /api/v1/app/{app_id}":    appAdmin,
	"PATCH /api/v1/app/{app_id}":  appAdmin,
	"DELETE /api/v1/app/{app_id}": appAdmin,

	"GET /api/v1/app/{app_id}/endpoint":                               appRead,
	"POST /api/v1/app/{app_id}/endpoint":                              appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}":                 appRead,
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}":                 appWrite,
	"PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}":               appWrite,
	"DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}":              appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers":         appRead,
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers":         appWrite,
	"PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers":       appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret":          appWrite,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate":  appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats":           appRead,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/circuit":         appRead,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover":        appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/fifo":            appRead,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/fifo/release":   appWrite,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing": appWrite,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay":    appWrite,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example":   appWrite,
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/filter/test":    appRead,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg":             appRead,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls":            appRead,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls-config":     appRead,
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls":            appWrite,
	"DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls":         appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/ca":              appRead,
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/ca":              appWrite,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth":           appRead,
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth-config":    appRead,
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth":           appWrite,
	"DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth":        appWrite,

	"GET /api/v1/event-type":                                  anyRead,
	"POST /api/v1/event-type":                                 serverWrite,
	"GET /api/v1/event-type/{event_type_name}":                anyRead,
	"PUT /api/v1/event-type/{event_type_name}":                serverWrite,
	"PATCH /api/v1/event-type/{event_type_name}":              serverWrite,
	"DELETE /api/v1/event-type/{event_type_name}":             serverWrite,
	"GET /api/v1/event-type/{event_type_name}/retry-schedule": anyRead,
	"PUT /api/v1/event-type/{event_type_name}/retry-schedule": serverWrite,

	"GET /api/v1/app/{app_id}/msg":                                          appRead,
	"POST /api/v1/app/{app_id}/msg":                                         appAdmin,
	"GET /api/v1/app/{app_id}/msg/{msg_id}":                                 appRead,
	"POST /api/v1/app/{app_id}/msg/precheck/active":                         appRead,
	"POST /api/v1/app/{app_id}/msg/bulk-expunge":                            appAdmin,
	"POST /api/v1/app/{app_id}/msg/expunge-all-contents":                    appAdmin,
	"POST /api/v1/msg/expunge-all-contents":                                 serverWrite,
	"DELETE /api/v1/app/{app_id}/msg/{msg_id}/content":                      appAdmin,
	"GET /api/v1/app/{app_id}/msg/{msg_id}/endpoint":                        appRead,
	"GET /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt":  appRead,
	"POST /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend":  appWrite,
	"GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}":            appRead,
	"GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/headers":    appRead,
	"DELETE /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content": appAdmin,
	"GET /api/v1/app/{app_id}/attempt/msg/{msg_id}":                         appRead,
	"GET /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}":               appRead,

	"GET /api/v1/operational-webhook/endpoint":                              serverRead,
	"POST /api/v1/operational-webhook/endpoint":                             serverWrite,
	"GET /api/v1/operational-webhook/endpoint/{endpoint_id}":                serverRead,
	"PUT /api/v1/operational-webhook/endpoint/{endpoint_id}":                serverWrite,
	"DELETE /api/v1/operational-webhook/endpoint/{endpoint_id}":             serverWrite,
	"GET /api/v1/operational-webhook/endpoint/{endpoint_id}/headers":        serverRead,
	"PUT /api/v1/operational-webhook/endpoint/{endpoint_id}/headers":        serverWrite,
	"GET /api/v1/operational-webhook/endpoint/{endpoint_id}/secret":         serverWrite,
	"POST /api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate": serverWrite,

	"POST /api/v1/stats/usage/app":        serverRead,
	"PUT /api/v1/stats/usage/event-types": serverRead,

	"POST /api/v1/event-type/import/openapi": serverWrite,
	"POST /api/v1/event-type/export/openapi": serverRead,

	"GET /api/v1/search/msg":                                serverRead,
	"GET /api/v1/search/attempt":                            serverRead,
	"GET /api/v1/background-task":                           serverRead,
	"GET /api/v1/background-task/{task_id}":                 serverRead,
	"POST /api/v1/app/{app_id}/relay":                       appWrite,
	"GET /api/v1/app/{app_id}/relay/{endpoint_id}/requests": appWrite,
	"POST /api/v1/app/{app_id}/relay/{endpoint_id}/answer":  appWrite,

	"POST /api/v1/auth/app-portal-access/{app_id}": appAdmin,
	"POST /api/v1/auth/app/{app_id}/expire-all":    appAdmin,
	"POST /api/v1/auth/logout":                     appTokenOnly,
	"GET /api/v1/auth/api-key":                     serverRead,
	"POST /api/v1/auth/api-key":                    serverWrite,
	"POST /api/v1/auth/api-key/{key_id}/expire":    serverWrite,
}

// The callers of the table. appView is a token of application A with only the
// ViewBase capability (readOnly in the request that made it).
const (
	cAdmin = iota
	cReadOnly
	cAppA
	cAppAView
	cAppB
	cExpired
	cNone
	nCallers
)

var callerNames = [nCallers]string{"admin key", "read-only key", "app A token", "app A view-only token", "app B token", "expired token", "no token"}

// expect returns the status class a caller gets: 0 allowed (any status but 401 and
// 403), else the exact status.
func (w want) expect(caller int) int {
	if w == public {
		return 0
	}
	switch caller {
	case cExpired, cNone:
		return 401
	}
	allowed := map[want][nCallers]bool{
		serverRead:   {cAdmin: true, cReadOnly: true},
		serverWrite:  {cAdmin: true},
		anyRead:      {cAdmin: true, cReadOnly: true, cAppA: true, cAppAView: true, cAppB: true},
		appRead:      {cAdmin: true, cReadOnly: true, cAppA: true, cAppAView: true},
		appWrite:     {cAdmin: true, cAppA: true},
		appAdmin:     {cAdmin: true},
		appTokenOnly: {cAppA: true, cAppAView: true, cAppB: true},
	}[w]
	if allowed[caller] {
		return 0
	}
	return 403
}

// scopeFixture is application A's data (the target of every path) and every caller's
// token.
type scopeFixture struct {
	ts     *testServer
	tokens [nCallers]string
	params map[string]string
	aIDs   []string // IDs of A's objects, which no refused answer may show
}

func newScopeFixture(t *testing.T) *scopeFixture {
	ctx := context.Background()
	ts := startServer(t)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(recv.Close)
	f := &scopeFixture{ts: ts, params: map[string]string{}}
	c := ts.client
	mkApp := func(name string) (*svix.ApplicationOut, *svix.EndpointOut, *svix.MessageOut) {
		a, err := c.Application.Create(ctx, svix.ApplicationIn{Name: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Endpoint.Create(ctx, a.Id, svix.EndpointIn{Url: recv.URL + "/" + name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Message.Create(ctx, a.Id, svix.MessageIn{EventType: "scope.test", Payload: map[string]any{"app": name}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a, e, m
	}
	a, e, m := mkApp("A")
	b, _, _ := mkApp("B")
	if _, err := c.EventType.Create(ctx, svix.EventTypeIn{Name: "scope.test", Description: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	at := waitAttempt(t, c, a.Id, m.Id)
	f.params = map[string]string{"app_id": a.Id, "endpoint_id": e.Id, "msg_id": m.Id, "attempt_id": at.Id,
		"event_type_name": "scope.test"}
	f.aIDs = []string{a.Id, e.Id, m.Id, at.Id}

	f.tokens[cAdmin] = adminToken
	f.tokens[cReadOnly] = f.apiKey(t, `{"name":"viewer","readOnly":true}`)
	f.params["key_id"] = f.keyID(t, `{"name":"throwaway"}`)
	f.tokens[cAppA] = f.appToken(t, a.Id, `{}`)
	f.tokens[cAppAView] = f.appToken(t, a.Id, `{"readOnly":true}`)
	f.tokens[cAppB] = f.appToken(t, b.Id, `{}`)
	f.tokens[cExpired] = f.appToken(t, a.Id, `{}`)
	if code, body := f.call(t, "POST", "/api/v1/auth/logout", "{}", f.tokens[cExpired]); code != 204 {
		t.Fatalf("logout: %d %s", code, body)
	}
	return f
}

func (f *scopeFixture) call(t *testing.T, method, path, body, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (f *scopeFixture) created(t *testing.T, path, body string, out any) {
	t.Helper()
	code, b := f.call(t, "POST", path, body, adminToken)
	if code != 200 && code != 201 {
		t.Fatalf("POST %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func (f *scopeFixture) apiKey(t *testing.T, body string) string {
	var out struct{ Key string }
	f.created(t, "/api/v1/auth/api-key", body, &out)
	return out.Key
}

func (f *scopeFixture) keyID(t *testing.T, body string) string {
	var out struct{ ID string }
	f.created(t, "/api/v1/auth/api-key", body, &out)
	return out.ID
}

func (f *scopeFixture) appToken(t *testing.T, appID, body string) string {
	var out struct{ URL, Token string }
	f.created(t, "/api/v1/auth/app-portal-access/"+appID, body, &out)
	if !strings.HasPrefix(out.Token, "hka_") || !strings.HasPrefix(out.URL, f.ts.url+"/portal") {
		t.Fatalf("app-portal-access answered url %q, token %q", out.URL, out.Token)
	}
	return out.Token
}

func (f *scopeFixture) path(pattern string) string {
	p := pattern
	for k, v := range f.params {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return p
}

// snapshot is everything an admin can read of application A.
func (f *scopeFixture) snapshot(t *testing.T) []byte {
	var all bytes.Buffer
	for _, p := range []string{"/api/v1/app/{app_id}", "/api/v1/app/{app_id}/endpoint",
		"/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
		"/api/v1/app/{app_id}/msg?with_content=true", "/api/v1/app/{app_id}/attempt/msg/{msg_id}",
		"/api/v1/event-type/{event_type_name}", "/api/v1/auth/api-key"} {
		code, b := f.call(t, "GET", f.path(p), "", adminToken)
		if code != 200 {
			t.Fatalf("snapshot GET %s: %d %s", p, code, b)
		}
		all.Write(b)
	}
	return all.Bytes()
}

// rank orders the allowed calls so that those which end the fixture come last:
// deletions, then logging out (which ends the caller's token), expiring every token
// of A, and deleting A.
func rank(route string) int {
	switch {
	case route == "DELETE /api/v1/app/{app_id}":
		return 5
	case strings.HasSuffix(route, "/expire-all"):
		return 4
	case strings.HasSuffix(route, "/logout"):
		return 3
	case strings.HasPrefix(route, "DELETE "):
		return 2
	}
	return 1
}

// TestRouteScopes calls every route the server serves with every kind of caller and
// checks the status: refused calls are refused before anything is read or changed,
// and application B's token never sees or alters application A's data.
func TestRouteScopes(t *testing.T) {
	f := newScopeFixture(t)
	routes := f.ts.srv.Routes()
	for _, r := range routes {
		if _, ok := routeAccess[r]; !ok {
			t.Errorf("route %s has no entry in routeAccess: say who may call it", r)
		}
	}
	for r := range routeAccess {
		if !slices.Contains(routes, r) {
			t.Errorf("routeAccess lists %s, which the server does not serve", r)
		}
	}
	type call struct {
		route  string
		caller int
	}
	var refused, allowed []call
	for _, r := range routes {
		for c := range nCallers {
			if routeAccess[r].expect(c) == 0 {
				allowed = append(allowed, call{r, c})
			} else {
				refused = append(refused, call{r, c})
			}
		}
	}
	do := func(c call) (int, []byte) {
		method, pattern, _ := strings.Cut(c.route, " ")
		body := ""
		if method != "GET" && method != "DELETE" {
			body = "{}"
		}
		return f.call(t, method, f.path(pattern), body, f.tokens[c.caller])
	}

	before := f.snapshot(t)
	for _, c := range refused {
		code, body := do(c)
		if want := routeAccess[c.route].expect(c.caller); code != want {
			t.Errorf("%s with %s: %d %s, want %d", c.route, callerNames[c.caller], code, truncate(body), want)
		}
		for _, id := range f.aIDs {
			if bytes.Contains(body, []byte(id)) {
				t.Errorf("%s with %s: the refusal shows %s of application A: %s", c.route, callerNames[c.caller], id, body)
			}
		}
	}
	if after := f.snapshot(t); !bytes.Equal(before, after) {
		t.Errorf("refused calls changed application A:\nbefore %s\nafter  %s", before, after)
	}

	slices.SortStableFunc(allowed, func(a, b call) int { return rank(a.route) - rank(b.route) })
	for _, c := range allowed {
		if code, body := do(c); code == 401 || code == 403 {
			t.Errorf("%s with %s: %d %s, want it allowed", c.route, callerNames[c.caller], code, truncate(body))
		}
	}
}

// TestAppTokenReachesOnlyItsApp uses the Svix SDK with an application token: its own
// application works, another's is refused, and logging out ends it.
func TestAppTokenReachesOnlyItsApp(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t)
	a, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "A"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "B"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	access, err := ts.client.Authentication.AppPortalAccess(ctx, a.Id, svix.AppPortalAccessIn{FeatureFlags: []string{"beta"}, SessionId: ptr("user_1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	portal := newClient(t, ts.url, access.Token)
	if _, err := portal.Endpoint.Create(ctx, a.Id, svix.EndpointIn{Url: "https://example.com/a"}, nil); err != nil {
		t.Fatalf("own application: %v", err)
	}
	_, err = portal.Endpoint.List(ctx, b.Id, nil)
	wantStatus(t, err, 403)
	_, err = portal.Application.List(ctx, nil)
	wantStatus(t, err, 403)
	if err := ts.client.Authentication.ExpireAll(ctx, a.Id, svix.ApplicationTokenExpireIn{SessionIds: []string{"other"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := portal.Endpoint.List(ctx, a.Id, nil); err != nil {
		t.Fatalf("expire-all of another session ended this token: %v", err)
	}
	if err := ts.client.Authentication.ExpireAll(ctx, a.Id, svix.ApplicationTokenExpireIn{SessionIds: []string{"user_1"}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = portal.Endpoint.List(ctx, a.Id, nil)
	wantStatus(t, err, 401)
	// Logout ends the token it is called with.
	access, err = ts.client.Authentication.AppPortalAccess(ctx, a.Id, svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	portal = newClient(t, ts.url, access.Token)
	if err := portal.Authentication.Logout(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, err = portal.Endpoint.List(ctx, a.Id, nil)
	wantStatus(t, err, 401)
	// A token for an application that does not exist yet creates it, as Svix does.
	access, err = ts.client.Authentication.AppPortalAccess(ctx, "new-customer", svix.AppPortalAccessIn{Application: &svix.ApplicationIn{Name: "New"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, ts.url, access.Token).Endpoint.List(ctx, "new-customer", nil); status(err) != 403 {
		t.Fatalf("the uid in the path: %v, want 403 (tokens name their application by ID)", err)
	}
}

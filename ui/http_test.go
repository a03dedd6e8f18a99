package ui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// These tests drive the pages with a plain HTTP client, so they run where no browser
// is installed; the browser tests show the same from a person's side.

// pageClient is an HTTP client with a cookie jar that does not follow redirects.
type pageClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newPageClient(t *testing.T, base string) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get returns the status, headers and body of GET path.
func (pc *pageClient) get(path string) (int, http.Header, string) {
	pc.t.Helper()
	resp, err := pc.c.Get(pc.base + path)
	if err != nil {
		pc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// post posts form to path and returns the status and body.
func (pc *pageClient) post(path string, form url.Values) (int, string) {
	pc.t.Helper()
	resp, err := pc.c.PostForm(pc.base+path, form)
	if err != nil {
		pc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// csrf returns the CSRF token of the first form on path.
func (pc *pageClient) csrf(path string) string {
	pc.t.Helper()
	_, _, body := pc.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		pc.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// signIn signs in to the dashboard with key and returns the session's CSRF token.
func (pc *pageClient) signIn(key string) string {
	pc.t.Helper()
	code, _ := pc.post("/ui/signin", url.Values{"csrf": {pc.csrf("/ui/signin")}, "key": {key}})
	if code != http.StatusSeeOther {
		pc.t.Fatalf("sign in answered %d", code)
	}
	return pc.csrf("/ui/")
}

func TestPagesOverHTTP(t *testing.T) {
	ts := startServer(t, func(c *serverConfig) { c.PortalFrameAncestors = []string{"https://app.example.com"} })
	rc := newReceiver(t)
	appID, epID, msgID := failedMessage(t, ts, rc)
	pc := newPageClient(t, ts.url)

	t.Run("root redirects to the dashboard", func(t *testing.T) {
		code, h, _ := pc.get("/")
		if code != http.StatusFound || h.Get("Location") != "/ui/" {
			t.Fatalf("GET / = %d to %q", code, h.Get("Location"))
		}
		code, h, _ = pc.get("/ui/app/" + appID)
		if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/signin") {
			t.Fatalf("a page without a session = %d to %q, want the sign-in page", code, h.Get("Location"))
		}
	})
	t.Run("security headers", func(t *testing.T) {
		_, h, _ := pc.get("/ui/signin")
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("dashboard CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("dashboard headers = %v", h)
		}
		_, h, _ = pc.get("/portal")
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://app.example.com") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("portal CSP = %q, want framing by the configured origin only", csp)
		}
	})
	t.Run("assets are versioned and cached", func(t *testing.T) {
		_, _, body := pc.get("/ui/signin")
		i := strings.Index(body, "/ui/static/app.")
		if i < 0 {
			t.Fatal("no stylesheet link")
		}
		path := body[i : i+strings.IndexByte(body[i:], '"')]
		code, h, _ := pc.get(path)
		if code != 200 || !strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Fatalf("GET %s = %d, Cache-Control %q", path, code, h.Get("Cache-Control"))
		}
		if code, _, _ := pc.get("/ui/static/app.css"); code != http.StatusNotFound {
			t.Fatalf("an asset without its hash answered %d, want 404", code)
		}
	})

	csrf := pc.signIn(adminToken)
	t.Run("endpoint page shows the payload filter", func(t *testing.T) {
		var ep struct {
			ID string `json:"id"`
		}
		ts.do(t, "POST", "/api/v1/app/"+appID+"/endpoint", map[string]any{"url": rc.url + "/filtered",
			"payloadFilter": map[string]any{"path": "data.note", "eq": "<b>&"}}, &ep)
		code, _, body := pc.get("/ui/app/" + appID + "/endpoint/" + ep.ID)
		want := `<code id="payload-filter">{&#34;eq&#34;:&#34;\u003cb\u003e\u0026&#34;,&#34;path&#34;:&#34;data.note&#34;}</code>`
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("endpoint page: %d, want it to show %s in:\n%s", code, want, body)
		}
		if _, _, body := pc.get("/ui/app/" + appID + "/endpoint/" + epID); strings.Contains(body, "payload-filter") {
			t.Error("the page of an endpoint without a filter shows one")
		}
		// The customer sees it in the portal too.
		_, token := portalAccess(t, ts, appID)
		pp := newPageClient(t, ts.url)
		if code, _ := pp.post("/portal/session", url.Values{"csrf": {pp.csrf("/portal")}, "token": {token}}); code != http.StatusSeeOther {
			t.Fatalf("portal sign-in: %d", code)
		}
		if code, _, body := pp.get("/portal/app/" + appID + "/endpoint/" + ep.ID); code != 200 || !strings.Contains(body, want) {
			t.Errorf("portal endpoint page: %d, want it to show %s in:\n%s", code, want, body)
		}
		// The customer sets and removes it with the endpoint form; the API's refusal of
		// a bad one is shown with what was typed.
		base := "/portal/app/" + appID
		csrf := pp.csrf(base + "/endpoint/new")
		form := url.Values{"csrf": {csrf}, "url": {rc.url + "/portal"}, "payloadFilter": {`{"path":"data.amount","gt":"x","lt":1}`}}
		if code, body := pp.post(base+"/endpoint", form); code != http.StatusUnprocessableEntity || !strings.Contains(body, "exactly one operator") ||
			!strings.Contains(body, `&#34;gt&#34;:&#34;x&#34;`) {
			t.Errorf("bad filter from the portal: %d, want 422 saying why and keeping the text:\n%s", code, body)
		}
		form.Set("payloadFilter", `{"path": "data.amount", "gt": 100}`)
		code, _ = pp.post(base+"/endpoint", form)
		var eps struct {
			Data []struct {
				ID            string          `json:"id"`
				URL           string          `json:"url"`
				PayloadFilter json.RawMessage `json:"payloadFilter"`
			} `json:"data"`
		}
		ts.do(t, "GET", "/api/v1/app/"+appID+"/endpoint", nil, &eps)
		var made string
		for _, e := range eps.Data {
			if e.URL == rc.url+"/portal" {
				made = e.ID
				if string(e.PayloadFilter) != `{"path":"data.amount","gt":100}` {
					t.Errorf("portal-made endpoint has payloadFilter %s", e.PayloadFilter)
				}
			}
		}
		if code != http.StatusSeeOther || made == "" {
			t.Fatalf("portal create with a filter: %d, endpoint %q", code, made)
		}
		edit := url.Values{"csrf": {csrf}, "url": {rc.url + "/portal"}, "payloadFilter": {""}}
		if code, _ := pp.post(base+"/endpoint/"+made+"/edit", edit); code != http.StatusSeeOther {
			t.Fatalf("portal edit: %d", code)
		}
		var after struct {
			PayloadFilter json.RawMessage `json:"payloadFilter"`
		}
		ts.do(t, "GET", "/api/v1/app/"+appID+"/endpoint/"+made, nil, &after)
		if string(after.PayloadFilter) != "null" {
			t.Errorf("after the portal form cleared it, payloadFilter is %s", after.PayloadFilter)
		}
	})
	t.Run("event types show an enforced schema", func(t *testing.T) {
		ts.do(t, "POST", "/api/v1/event-type", map[string]any{"name": "checked.type", "description": "d",
			"enforceSchema": true, "schemas": map[string]any{"1": map[string]any{"type": "object"}}}, nil)
		ts.do(t, "POST", "/api/v1/event-type", map[string]any{"name": "free.type", "description": "d"}, nil)
		_, _, body := pc.get("/ui/event-types")
		checked, free, _ := strings.Cut(body, `id="et-free.type"`)
		if !strings.Contains(body, `id="et-checked.type"`) || !strings.Contains(checked, "schema enforced") {
			t.Errorf("event types page does not mark checked.type as enforced:\n%s", body)
		}
		if section, _, _ := strings.Cut(free, "</section>"); strings.Contains(section, "schema enforced") {
			t.Errorf("free.type is marked as enforced: %s", section)
		}
	})
	disable := "/ui/app/" + appID + "/endpoint/" + epID + "/disable"
	t.Run("forms need their CSRF token", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"none":  {"confirm": {"yes"}},
			"wrong": {"confirm": {"yes"}, "csrf": {"x" + csrf}},
		} {
			if code, _ := pc.post(disable, form); code != http.StatusForbidden {
				t.Fatalf("CSRF token %s: %d, want 403", name, code)
			}
		}
		if ep, _ := ts.srv.Store().Endpoint(t.Context(), appID, epID); ep.Disabled {
			t.Fatal("the endpoint was disabled without a CSRF token")
		}
		// With it, the action asks first and acts once confirmed.
		if code, body := pc.post(disable, url.Values{"csrf": {csrf}}); code != 200 || !strings.Contains(body, `id="confirm"`) {
			t.Fatalf("action without confirmation: %d", code)
		}
		if code, _ := pc.post(disable, url.Values{"csrf": {csrf}, "confirm": {"yes"}}); code != http.StatusSeeOther {
			t.Fatalf("confirmed action: %d", code)
		}
		if ep, _ := ts.srv.Store().Endpoint(t.Context(), appID, epID); !ep.Disabled {
			t.Fatal("the confirmed action did not disable the endpoint")
		}
	})
	t.Run("payloads are escaped", func(t *testing.T) {
		_, _, body := pc.get("/ui/app/" + appID + "/msg/" + msgID)
		if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatal("the message page does not escape the payload's markup")
		}
		if strings.Contains(body, "Acme <b>Corp</b>") {
			t.Fatal("the application's name is not escaped")
		}
	})

	t.Run("dead letters are retried in bulk", func(t *testing.T) {
		rc2 := newReceiver(t)
		app2, ep2, msg2 := failedMessage(t, ts, rc2)
		_, _, body := pc.get("/ui/dead-letters?app=" + app2)
		pick := app2 + "/" + msg2 + "/" + ep2
		if !strings.Contains(body, `value="`+pick+`"`) {
			t.Fatal("the exhausted delivery is not listed among the dead letters")
		}
		rc2.succeed.Store(true)
		form := url.Values{"csrf": {csrf}, "delivery": {pick}, "confirm": {"yes"}}
		if code, _ := pc.post("/ui/dead-letters/retry", form); code != http.StatusSeeOther {
			t.Fatalf("retry: %d", code)
		}
		as := ts.waitAttempts(t, app2, msg2, 2)
		if as[0].ResponseStatusCode != 200 {
			t.Fatalf("retried attempt got %d", as[0].ResponseStatusCode)
		}
	})
	t.Run("read-only keys see but do not act", func(t *testing.T) {
		var key struct {
			Key string `json:"key"`
		}
		ts.do(t, "POST", "/api/v1/auth/api-key", map[string]any{"name": "viewer", "readOnly": true}, &key)
		ro := newPageClient(t, ts.url)
		roCSRF := ro.signIn(key.Key)
		code, _, body := ro.get("/ui/app/" + appID + "/endpoint/" + epID)
		controls := strings.Contains(body, `id="enable"`) || strings.Contains(body, `id="disable"`) || strings.Contains(body, `id="rotate"`)
		if code != 200 || controls || !strings.Contains(body, "read-only") {
			t.Fatalf("read-only endpoint page: %d, controls shown: %v", code, controls)
		}
		enable := "/ui/app/" + appID + "/endpoint/" + epID + "/enable"
		if code, _ := ro.post(enable, url.Values{"csrf": {roCSRF}, "confirm": {"yes"}}); code != http.StatusForbidden {
			t.Fatalf("read-only key's action: %d, want 403", code)
		}
	})

	t.Run("portal sessions stay in their application", func(t *testing.T) {
		var other struct {
			ID string `json:"id"`
		}
		ts.do(t, "POST", "/api/v1/app", map[string]any{"name": "other"}, &other)
		_, token := portalAccess(t, ts, other.ID)
		pp := newPageClient(t, ts.url)
		code, _ := pp.post("/portal/session", url.Values{"csrf": {pp.csrf("/portal")}, "token": {token}})
		if code != http.StatusSeeOther {
			t.Fatalf("portal sign-in: %d", code)
		}
		if code, _, _ := pp.get("/portal/app/" + other.ID + "/"); code != 200 {
			t.Fatalf("own portal page: %d", code)
		}
		for _, path := range []string{"/portal/app/" + appID + "/", "/portal/app/" + appID + "/msg/" + msgID} {
			if code, _, _ := pp.get(path); code != http.StatusForbidden {
				t.Fatalf("GET %s from another app's portal session: %d, want 403", path, code)
			}
		}
		if code, _ := pp.post("/portal/app/"+appID+"/endpoint/"+epID+"/delete", url.Values{"confirm": {"yes"}}); code != http.StatusForbidden {
			t.Fatalf("POST to another app from the portal: %d, want 403", code)
		}
		// The portal session is not a dashboard session, nor the reverse.
		if code, h, _ := pp.get("/ui/"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/signin") {
			t.Fatalf("dashboard from a portal session: %d", code)
		}
		if code, _, _ := pc.get("/portal/app/" + appID + "/"); code != http.StatusUnauthorized {
			t.Fatalf("portal from a dashboard session: %d, want 401", code)
		}
		// A bad token opens nothing.
		bad := newPageClient(t, ts.url)
		if code, _ := bad.post("/portal/session", url.Values{"csrf": {bad.csrf("/portal")}, "token": {"hka_not-a-token"}}); code != http.StatusUnauthorized {
			t.Fatalf("portal sign-in with a bad token: %d, want 401", code)
		}
	})
}

package ui_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/webhook"
)

// invoiceSchema is a JSON Schema with an example, as the portal shows and sends it.
func invoiceSchema(example string) map[string]any {
	return map[string]any{"1": map[string]any{"type": "object", "examples": []json.RawMessage{json.RawMessage(example)}}}
}

const paidExample = `{"invoice":"in_123","amount":4200,"note":"<b>bold</b>"}`

// portalAccess asks the API for app's portal URL and token.
func portalAccess(t *testing.T, ts *testServer, appID string) (portalURL, token string) {
	t.Helper()
	var out struct {
		URL   string `json:"url"`
		Token string `json:"token"`
	}
	ts.do(t, "POST", "/api/v1/auth/app-portal-access/"+appID, map[string]any{}, &out)
	if !strings.HasPrefix(out.URL, ts.url+"/portal") || out.Token == "" {
		t.Fatalf("app-portal-access answered %+v", out)
	}
	return out.URL, out.Token
}

// heading returns the page's main heading; error pages start it with their status
// ("403 Forbidden").
func (b *browser) heading() string { return b.text("h1") }

// TestPortal opens the portal through an app-portal-access URL, adds an endpoint with
// two event types, reveals and rotates its secret, sends a test event that a real
// receiver verifies, and cannot reach another application's pages or API.
func TestPortal(t *testing.T) {
	b := newBrowser(t)
	ts := startServer(t, func(c *serverConfig) {
		c.PortalBrandName = "Acme Payments"
		c.PortalBrandColor = "#7c3aed"
		c.EgressIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("198.51.100.0/28")}
	})
	rc := newReceiver(t)
	rc.succeed.Store(true)

	var appA, appB, epB struct {
		ID string `json:"id"`
	}
	ts.do(t, "POST", "/api/v1/app", map[string]any{"name": "Customer A"}, &appA)
	ts.do(t, "POST", "/api/v1/app", map[string]any{"name": "Customer B"}, &appB)
	ts.do(t, "POST", "/api/v1/app/"+appB.ID+"/endpoint", map[string]any{"url": "https://b.example.com/hook"}, &epB)
	ts.do(t, "POST", "/api/v1/event-type", map[string]any{"name": "invoice.paid", "description": "An invoice was paid.",
		"schemas": invoiceSchema(paidExample)}, nil)
	ts.do(t, "POST", "/api/v1/event-type", map[string]any{"name": "invoice.failed", "description": "A payment failed.",
		"schemas": invoiceSchema(`{"invoice":"in_124","reason":"card_declined"}`)}, nil)
	ts.do(t, "POST", "/api/v1/event-type", map[string]any{"name": "customer.created", "description": "Not chosen."}, nil)

	// The portal URL signs in and drops its token from the address bar.
	portalURL, tokenA := portalAccess(t, ts, appA.ID)
	b.run("open portal", chromedp.Navigate(portalURL), chromedp.WaitVisible("#add-endpoint", chromedp.ByQuery))
	if loc := b.location(); strings.Contains(loc, tokenA) || strings.Contains(loc, "key=") || !strings.HasSuffix(loc, "/portal/app/"+appA.ID+"/") {
		t.Fatalf("portal address = %q, want the app's page without the token", loc)
	}
	if got := b.text("header .brand"); !strings.Contains(got, "Acme Payments") {
		t.Errorf("portal header = %q, want the brand name", got)
	}
	if got := b.text("#egress-ips"); !strings.Contains(got, "203.0.113.7") || !strings.Contains(got, "198.51.100.0/28") {
		t.Errorf("portal source addresses = %q", got)
	}
	b.screenshot("portal_home")

	// Add an endpoint with two event types chosen from the catalogue.
	b.run("add endpoint",
		chromedp.Click("#add-endpoint", chromedp.ByQuery),
		chromedp.WaitVisible("#url", chromedp.ByQuery),
		chromedp.SendKeys("#url", rc.url, chromedp.ByQuery),
		chromedp.SendKeys("#description", "billing", chromedp.ByQuery),
		chromedp.Click(`input[name="eventTypes"][value="invoice.paid"]`, chromedp.ByQuery),
		chromedp.Click(`input[name="eventTypes"][value="invoice.failed"]`, chromedp.ByQuery))
	b.screenshot("portal_add_endpoint")
	b.run("save endpoint", chromedp.Click("#save-endpoint", chromedp.ByQuery), chromedp.WaitVisible("#endpoint-types", chromedp.ByQuery))
	if got := b.text("#endpoint-types"); got != "invoice.paid, invoice.failed" && got != "invoice.failed, invoice.paid" {
		t.Fatalf("endpoint event types shown as %q", got)
	}
	loc := b.location()
	epID := loc[strings.LastIndex(loc, "/")+1:]
	if i := strings.IndexByte(epID, '?'); i >= 0 {
		epID = epID[:i]
	}
	ep, err := ts.srv.Store().Endpoint(t.Context(), appA.ID, epID)
	if err != nil {
		t.Fatalf("endpoint %q from the page's address: %v", epID, err)
	}
	if len(ep.FilterTypes) != 2 || ep.URL != rc.url {
		t.Fatalf("stored endpoint = %+v", ep)
	}

	// Reveal, then rotate: the page shows the new secret.
	b.run("reveal", chromedp.Click("#reveal", chromedp.ByQuery), chromedp.WaitVisible("#secret", chromedp.ByQuery))
	oldSecret := b.text("#secret")
	if !strings.HasPrefix(oldSecret, "whsec_") {
		t.Fatalf("revealed secret = %q", oldSecret)
	}
	b.run("rotate", chromedp.Click("#rotate", chromedp.ByQuery), chromedp.WaitVisible("#confirm", chromedp.ByQuery),
		chromedp.Click("#confirm", chromedp.ByQuery), chromedp.WaitVisible("#secret", chromedp.ByQuery))
	newSecret := b.text("#secret")
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret {
		t.Fatalf("secret after rotation = %q (before %q)", newSecret, oldSecret)
	}
	b.screenshot("portal_endpoint")

	// A test event arrives at the receiver, signed with the new secret.
	b.run("send test event",
		chromedp.SetValue("#test-type", "invoice.paid", chromedp.ByQuery),
		chromedp.Click("#send-test", chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@class="notice"][contains(., "Test event")]`, chromedp.BySearch))
	p, err := webhook.LookupProfile("")
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier(p, []string{newSecret})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-rc.got:
		if err := v.Verify(got.header, []byte(got.body)); err != nil {
			t.Fatalf("test event does not verify with the new secret: %v", err)
		}
		var gotBody, want any
		_ = json.Unmarshal([]byte(got.body), &gotBody)
		_ = json.Unmarshal([]byte(paidExample), &want)
		if !jsonEqual(gotBody, want) {
			t.Fatalf("test event body = %s, want the example %s", got.body, paidExample)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the receiver got no test event within 20 s")
	}

	// The delivery log shows the test event, its attempt and the receiver's answer;
	// resend makes a new attempt.
	b.run("delivery log", chromedp.Navigate(ts.url+"/portal/app/"+appA.ID+"/endpoint/"+epID),
		chromedp.WaitVisible(`a[href^="/portal/app/`+appA.ID+`/msg/"]`, chromedp.ByQuery),
		chromedp.Click(`a[href^="/portal/app/`+appA.ID+`/msg/"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href*="/attempt/"]`, chromedp.ByQuery))
	b.screenshot("portal_message")
	b.run("resend", chromedp.Click(".resend", chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@class="notice"][contains(., "Resend queued")]`, chromedp.BySearch))
	select {
	case <-rc.got:
	case <-time.After(20 * time.Second):
		t.Fatal("the resend did not arrive")
	}
	b.run("attempt", chromedp.Click(`a[href*="/attempt/"]`, chromedp.ByQuery), chromedp.WaitVisible("#response-body", chromedp.ByQuery))
	if got := b.text("#response-body"); got != "thanks" {
		t.Fatalf("portal attempt shows response %q, want the receiver's", got)
	}
	if got := b.text("#request-headers"); !strings.Contains(strings.ToLower(got), "webhook-signature: v1,") {
		t.Errorf("portal attempt shows request headers %q, want the signature", got)
	}

	// An Ed25519 endpoint reveals its public key only.
	var edEp struct {
		ID string `json:"id"`
	}
	ts.do(t, "POST", "/api/v1/app/"+appA.ID+"/endpoint", map[string]any{"url": "https://a.example.com/ed", "signatureProfile": "standard-ed25519"}, &edEp)
	b.run("reveal Ed25519", chromedp.Navigate(ts.url+"/portal/app/"+appA.ID+"/endpoint/"+edEp.ID+"?reveal=1"), chromedp.WaitVisible("#secret", chromedp.ByQuery))
	if got := b.text("#secret"); !strings.HasPrefix(got, "whpk_") {
		t.Fatalf("Ed25519 endpoint reveals %q, want its whpk_ public key", got)
	}

	// Application B's pages and API are forbidden to this session and its token.
	for _, path := range []string{"/portal/app/" + appB.ID + "/", "/portal/app/" + appB.ID + "/endpoint/" + epB.ID} {
		b.run("open "+path, chromedp.Navigate(ts.url+path), chromedp.WaitVisible("h1", chromedp.ByQuery))
		if got := b.heading(); !strings.HasPrefix(got, "403") {
			t.Fatalf("%s shows %q, want 403", path, got)
		}
	}
	var status int
	b.run("post to B", chromedp.Evaluate(`fetch("/portal/app/`+appB.ID+`/endpoint/`+epB.ID+`/delete", {method: "POST"}).then(r => r.status)`,
		&status, awaitPromise))
	if status != http.StatusForbidden {
		t.Fatalf("POST to app B's portal page answered %d, want 403", status)
	}
	for _, path := range []string{"/api/v1/app/" + appB.ID + "/endpoint", "/api/v1/app/" + appB.ID + "/endpoint/" + epB.ID, "/api/v1/app"} {
		req, _ := http.NewRequest("GET", ts.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("GET %s with app A's portal token answered %d, want 403", path, resp.StatusCode)
		}
	}
	// Nor does the portal session open the dashboard.
	b.run("dashboard", chromedp.Navigate(ts.url+"/ui/"), chromedp.WaitVisible("#key", chromedp.ByQuery))
	if b.Dialogs.Load() != 0 {
		t.Fatalf("%d JavaScript dialogs opened", b.Dialogs.Load())
	}
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

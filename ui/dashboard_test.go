package ui_test

import (
	"context"

	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// scriptPayload is a payload that would run script if a page rendered it as HTML.
const scriptPayload = `{"note":"<script>alert(1)</script>","img":"<img src=x onerror=alert(2)>","order":42}`

// failedMessage creates an application, an endpoint at rc and a message with eventId
// order-42 whose one attempt fails, and returns their IDs.
func failedMessage(t *testing.T, ts *testServer, rc *receiver) (appID, epID, msgID string) {
	t.Helper()
	var app, ep, msg struct {
		ID string `json:"id"`
	}
	ts.do(t, "POST", "/api/v1/app", map[string]any{"name": "Acme <b>Corp</b>"}, &app)
	ts.do(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", map[string]any{"url": rc.url, "description": "orders"}, &ep)
	ts.do(t, "POST", "/api/v1/app/"+app.ID+"/msg", map[string]any{"eventType": "order.created", "eventId": "order-42",
		"payload": json.RawMessage(scriptPayload)}, &msg)
	as := ts.waitAttempts(t, app.ID, msg.ID, 1)
	if as[0].ResponseStatusCode != 500 {
		t.Fatalf("first attempt got status %d, want the receiver's 500", as[0].ResponseStatusCode)
	}
	return app.ID, ep.ID, msg.ID
}

// TestDashboard signs in, finds a failed message by its eventId, reads the receiver's
// answer on the attempt, resends it and sees the new attempt succeed.
func TestDashboard(t *testing.T) {
	b := newBrowser(t)
	ts := startServer(t)
	rc := newReceiver(t)
	appID, epID, msgID := failedMessage(t, ts, rc)

	// An unknown key is refused; the admin key signs in.
	b.run("wrong key",
		chromedp.Navigate(ts.url+"/"),
		chromedp.WaitVisible("#key", chromedp.ByQuery),
		chromedp.SendKeys("#key", "not-the-key", chromedp.ByQuery),
		chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitVisible(".error", chromedp.ByQuery))
	if got := b.text(".error"); !strings.Contains(got, "not a valid admin API key") {
		t.Fatalf("wrong key: page says %q", got)
	}
	b.signIn(ts.url, adminToken)
	if got := b.text("#queue-depth"); got != "0" {
		t.Errorf("queue depth = %q, want 0", got)
	}
	b.screenshot("overview")

	// The session cookie is HttpOnly, SameSite=Strict and expires.
	var cookies []*network.Cookie
	b.run("cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == "hookd_ui" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Expires <= float64(time.Now().Unix()) {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, expiring", session)
	}

	// Find the message by eventId from the overview's search.
	b.run("search by eventId",
		chromedp.SendKeys(`input[name="app"]`, appID, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="event_id"]`, "order-42", chromedp.ByQuery),
		chromedp.Submit(`input[name="event_id"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="/ui/app/`+appID+`/msg/`+msgID+`"]`, chromedp.ByQuery))
	b.screenshot("messages")
	b.run("open message",
		chromedp.Click(`a[href="/ui/app/`+appID+`/msg/`+msgID+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#payload", chromedp.ByQuery))

	// The payload's markup is text: no dialog, no element made from it.
	if got := b.text("#payload"); !strings.Contains(got, "<script>alert(1)</script>") || !strings.Contains(got, "<img src=x onerror=alert(2)>") {
		t.Fatalf("payload shown as %q, want the markup as text", got)
	}
	var injected int
	b.run("count injected elements", chromedp.Evaluate(`document.querySelectorAll("#payload *, img[src=x]").length + [...document.scripts].filter(s => !s.src).length`, &injected))
	if injected != 0 {
		t.Fatalf("%d elements came from the payload's markup", injected)
	}
	b.screenshot("message")

	// The attempt shows the receiver's answer.
	as := ts.waitAttempts(t, appID, msgID, 1)
	b.run("open attempt",
		chromedp.Click(`a[href="/ui/app/`+appID+`/msg/`+msgID+`/attempt/`+as[0].ID+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#response-body", chromedp.ByQuery))
	if got := b.text("#response-status"); got != "500" {
		t.Fatalf("attempt status shown as %q, want 500", got)
	}
	if got := b.text("#response-body"); got != failBody {
		t.Fatalf("attempt response shown as %q, want %q", got, failBody)
	}
	if got := b.text("#request-headers"); !strings.Contains(strings.ToLower(got), "webhook-signature: v1,") {
		t.Fatalf("attempt request headers shown as %q, want the signature", got)
	}
	b.screenshot("attempt")

	// The exhausted delivery is among the dead letters; the catalogue shows examples.
	ts.do(t, "POST", "/api/v1/event-type", map[string]any{"name": "order.created", "description": "An order was placed.",
		"schemas": map[string]any{"1": map[string]any{"type": "object", "examples": []any{map[string]any{"order": 42}}}}}, nil)
	b.run("dead letters", chromedp.Navigate(ts.url+"/ui/dead-letters"),
		chromedp.WaitVisible(`input[name="delivery"][value="`+appID+`/`+msgID+`/`+epID+`"]`, chromedp.ByQuery))
	b.screenshot("deadletters")
	b.run("event types", chromedp.Navigate(ts.url+"/ui/event-types"), chromedp.WaitVisible("section.eventtype pre.payload", chromedp.ByQuery))
	b.screenshot("eventtypes")
	b.run("back to the attempt", chromedp.Navigate(ts.url+"/ui/app/"+appID+"/msg/"+msgID+"/attempt/"+as[0].ID),
		chromedp.WaitVisible("#resend", chromedp.ByQuery))

	// Resend, confirm, and see the new attempt succeed.
	rc.succeed.Store(true)
	b.run("resend",
		chromedp.Click("#resend", chromedp.ByQuery),
		chromedp.WaitVisible("#confirm", chromedp.ByQuery))
	b.screenshot("confirm")
	b.run("confirm resend",
		chromedp.Click("#confirm", chromedp.ByQuery),
		chromedp.WaitVisible(".notice", chromedp.ByQuery))
	as = ts.waitAttempts(t, appID, msgID, 2)
	b.run("reload message", chromedp.Reload(), chromedp.WaitVisible("table.attempts", chromedp.ByQuery))
	var rows []string
	b.run("read attempts", chromedp.Evaluate(`[...document.querySelectorAll("table.attempts tbody tr")].map(r => r.innerText)`, &rows))
	if len(rows) != 2 || !strings.Contains(rows[0], as[0].ID) || !strings.Contains(rows[0], "success") || !strings.Contains(rows[0], "manual") {
		t.Fatalf("attempt rows after resend = %q, want the new successful manual attempt first", rows)
	}

	// The endpoint page and the dead letters, for the record.
	b.run("endpoint page", chromedp.Navigate(ts.url+"/ui/app/"+appID+"/endpoint/"+epID), chromedp.WaitVisible("table.attempts", chromedp.ByQuery))
	b.screenshot("endpoint")

	// A bulk replay of the last day runs as a background task, shown until it
	// finishes, and sends the message again.
	b.run("bulk replay", chromedp.Click("#bulk-replay", chromedp.ByQuery), chromedp.WaitVisible("#confirm", chromedp.ByQuery),
		chromedp.Click("#confirm", chromedp.ByQuery), chromedp.WaitVisible("#task-status", chromedp.ByQuery))
	b.run("task finished", chromedp.WaitVisible(`//dd[@id="task-status"][contains(., "finished")]`, chromedp.BySearch))
	b.screenshot("task")
	ts.waitAttempts(t, appID, msgID, 3)
	if b.Dialogs.Load() != 0 {
		t.Fatalf("%d JavaScript dialogs opened", b.Dialogs.Load())
	}

	// A form posted without its CSRF token is refused, and changes nothing.
	var status int
	b.run("post without CSRF", chromedp.Evaluate(`fetch("/ui/app/`+appID+`/endpoint/`+epID+`/disable",
		{method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "confirm=yes"}).then(r => r.status)`,
		&status, awaitPromise))
	if status != http.StatusForbidden {
		t.Fatalf("POST without CSRF token answered %d, want 403", status)
	}
	b.run("submit a form without CSRF", chromedp.Evaluate(`(() => {
		const f = document.createElement("form"); f.method = "post";
		f.action = "/ui/app/`+appID+`/endpoint/`+epID+`/disable";
		const c = document.createElement("input"); c.name = "confirm"; c.value = "yes"; f.appendChild(c);
		document.body.appendChild(f); f.submit(); return true; })()`, nil),
		chromedp.WaitVisible(".error", chromedp.ByQuery))
	if got := b.text(".error"); !strings.Contains(got, "CSRF") {
		t.Fatalf("form without CSRF token: page says %q", got)
	}
	ep, err := ts.srv.Store().Endpoint(t.Context(), appID, epID)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Disabled {
		t.Fatal("a form without CSRF token disabled the endpoint")
	}

	// Signing out ends the session.
	b.run("sign out", chromedp.Navigate(ts.url+"/ui/"), chromedp.WaitVisible(".signout button", chromedp.ByQuery),
		chromedp.Click(".signout button", chromedp.ByQuery), chromedp.WaitVisible("#key", chromedp.ByQuery))
	b.run("after sign-out", chromedp.Navigate(ts.url+"/ui/app/"+url.PathEscape(appID)), chromedp.WaitVisible("#key", chromedp.ByQuery))
}

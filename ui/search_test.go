package ui_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSearchAcrossApplications finds messages of two applications by event type from
// the dashboard's search page, one of them by its eventId from the overview without
// naming its application, and the failed attempts by status code; a bad status code
// is refused with a message, and what was typed comes back escaped.
func TestSearchAcrossApplications(t *testing.T) {
	b := newBrowser(t)
	ts := startServer(t)
	failing := newReceiver(t)
	ok := newReceiver(t)
	ok.succeed.Store(true)
	type obj struct {
		ID string `json:"id"`
	}
	var apps [2]obj
	var msgs [2]obj
	for i, rc := range []*receiver{failing, ok} {
		ts.do(t, "POST", "/api/v1/app", map[string]any{"name": "shop " + string(rune('a'+i))}, &apps[i])
		ts.do(t, "POST", "/api/v1/app/"+apps[i].ID+"/endpoint", map[string]any{"url": rc.url}, nil)
		ts.do(t, "POST", "/api/v1/app/"+apps[i].ID+"/msg", map[string]any{"eventType": "invoice.paid",
			"eventId": "inv-" + string(rune('a'+i)), "payload": json.RawMessage(`{"n":1}`)}, &msgs[i])
		ts.do(t, "POST", "/api/v1/app/"+apps[i].ID+"/msg", map[string]any{"eventType": "user.created",
			"payload": json.RawMessage(`{}`)}, nil)
		ts.waitAttempts(t, apps[i].ID, msgs[i].ID, 1)
	}
	msgLink := func(i int) string { return `a[href="/ui/app/` + apps[i].ID + `/msg/` + msgs[i].ID + `"]` }
	b.signIn(ts.url, adminToken)

	// Messages of both applications by event type, and none of the other type.
	b.run("search messages by event type",
		chromedp.Navigate(ts.url+"/ui/search"),
		chromedp.WaitVisible(`input[name="event_type"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="event_type"]`, "invoice.paid", chromedp.ByQuery),
		chromedp.Click("#search", chromedp.ByQuery),
		chromedp.WaitVisible(msgLink(0), chromedp.ByQuery),
		chromedp.WaitVisible(msgLink(1), chromedp.ByQuery))
	var rows []string
	b.run("read rows", chromedp.Evaluate(`[...document.querySelectorAll("table.results tbody tr")].map(r => r.innerText)`, &rows))
	if len(rows) != 2 {
		t.Fatalf("search by event type shows %d rows %q, want the 2 invoice.paid messages", len(rows), rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, "invoice.paid") {
			t.Errorf("row %q is not an invoice.paid message", r)
		}
	}
	b.screenshot("search-messages")

	// The overview's quick search without an application finds the message by eventId.
	b.run("quick search by eventId",
		chromedp.Navigate(ts.url+"/ui/"),
		chromedp.WaitVisible(`input[name="event_id"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="event_id"]`, "inv-b", chromedp.ByQuery),
		chromedp.Submit(`input[name="event_id"]`, chromedp.ByQuery),
		chromedp.WaitVisible(msgLink(1), chromedp.ByQuery))
	b.run("read rows", chromedp.Evaluate(`[...document.querySelectorAll("table.results tbody tr")].map(r => r.innerText)`, &rows))
	if len(rows) != 1 {
		t.Fatalf("search by eventId shows %q, want one message", rows)
	}

	// Attempts by status code: only the failing application's.
	b.run("search attempts by status code",
		chromedp.Navigate(ts.url+"/ui/search"),
		chromedp.WaitVisible("#tab-attempt", chromedp.ByQuery),
		chromedp.Click("#tab-attempt", chromedp.ByQuery),
		chromedp.WaitVisible(`input[name="status_code"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="status_code"]`, "500", chromedp.ByQuery),
		chromedp.Click("#search", chromedp.ByQuery),
		// The attribute is the server's echo of the search, so this waits for its answer.
		chromedp.WaitVisible(`input[name="status_code"][value="500"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`table.results a[href="/ui/app/`+apps[0].ID+`"]`, chromedp.ByQuery))
	b.run("read rows", chromedp.Evaluate(`[...document.querySelectorAll("table.results tbody tr")].map(r => r.innerText)`, &rows))
	// Each failing application's message got one attempt by now; more may follow as retries.
	if len(rows) < 2 {
		t.Fatalf("attempts with status 500: %q, want the failing application's 2 messages' attempts", rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, apps[0].ID) || !strings.Contains(r, "500") || strings.Contains(r, apps[1].ID) {
			t.Errorf("row %q is not a 500 of %s", r, apps[0].ID)
		}
	}
	b.screenshot("search-attempts")

	// A bad status code gets a message; a typed value comes back as text.
	pc := newPageClient(t, ts.url)
	pc.signIn(adminToken)
	code, _, body := pc.get("/ui/search?kind=attempt&status_code=abc")
	if code != 200 || !strings.Contains(body, "status code must be an HTTP status") {
		t.Fatalf("bad status code: %d, page without the error message", code)
	}
	code, _, body = pc.get("/ui/search?kind=msg&tag=" + url.QueryEscape(`"><script>alert(1)</script>`))
	if code != 200 || strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("typed tag not escaped (status %d)", code)
	}
	code, _, body = pc.get("/ui/search?kind=msg&app=app_nope")
	if code != 200 || !strings.Contains(body, "no application has the ID or uid") {
		t.Fatalf("unknown application: %d, page without the error message", code)
	}
}

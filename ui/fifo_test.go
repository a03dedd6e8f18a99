package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd"
)

// haltedKeys waits until the endpoint has n halted ordering keys (GET …/fifo).
func haltedKeys(t *testing.T, ts *testServer, appID, epID string, n int) {
	t.Helper()
	var st struct {
		HaltedCount int `json:"haltedCount"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts.do(t, "GET", "/api/v1/app/"+appID+"/endpoint/"+epID+"/fifo", nil, &st)
		if st.HaltedCount == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint %s has %d halted keys after 30 s, want %d", epID, st.HaltedCount, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// delivered waits until the message has a successful attempt.
func delivered(t *testing.T, ts *testServer, appID, msgID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		as, err := ts.srv.Store().AttemptsByMessage(t.Context(), appID, msgID, hookd.AttemptFilter{}, hookd.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Status == hookd.StatusSuccess {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("message %s was not delivered within 30 s", msgID)
}

// TestFIFOPages halts an ordering key of a FIFO endpoint that stops on exhaustion,
// finds it on the dashboard's endpoint page and releases it there, then halts
// another and releases it from the customer portal; the key's next message is
// delivered after each release. A release without the session's CSRF token is
// refused.
func TestFIFOPages(t *testing.T) {
	b := newBrowser(t)
	ts := startServer(t) // retry schedule "none": the first failure is for good
	rc := newReceiver(t)
	var app, ep, m1, m2, m3, m4 struct {
		ID string `json:"id"`
	}
	ts.do(t, "POST", "/api/v1/app", map[string]any{"name": "Ordered"}, &app)
	ts.do(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", map[string]any{"url": rc.url, "fifo": true, "fifoOnExhausted": "stop"}, &ep)
	send := func(key string, out any) {
		ts.do(t, "POST", "/api/v1/app/"+app.ID+"/msg", map[string]any{"eventType": "order.updated", "orderingKey": key,
			"payload": map[string]any{"key": key}}, out)
	}
	send("cust-<1>", &m1)
	send("cust-<1>", &m2)
	haltedKeys(t, ts, app.ID, ep.ID, 1)

	// The dashboard's endpoint page shows the setting and the halted key.
	b.signIn(ts.url, adminToken)
	epPage := ts.url + "/ui/app/" + app.ID + "/endpoint/" + ep.ID
	b.run("endpoint page", chromedp.Navigate(epPage), chromedp.WaitVisible("#fifo-halted", chromedp.ByQuery))
	if got := b.text("#fifo-setting"); !strings.Contains(got, "stops its key") {
		t.Errorf("FIFO setting shown as %q", got)
	}
	if got := b.text("#fifo-counts"); !strings.Contains(got, "1 waiting") || !strings.Contains(got, "1 halted") {
		t.Errorf("FIFO counts shown as %q, want m2 waiting behind the halted key", got)
	}
	halted := b.text("#fifo-halted")
	if !strings.Contains(halted, "cust-<1>") || !strings.Contains(halted, m1.ID) || !strings.Contains(halted, "500") {
		t.Errorf("halted keys shown as %q, want cust-<1> held by %s after a 500", halted, m1.ID)
	}
	b.screenshot("endpoint_fifo")

	// Release, confirm: the key goes on and m2 arrives.
	rc.succeed.Store(true)
	b.run("release", chromedp.Click("#fifo-halted .fifo-release", chromedp.ByQuery), chromedp.WaitVisible("#confirm", chromedp.ByQuery))
	if got := b.heading(); !strings.Contains(got, `"cust-<1>"`) {
		t.Errorf("confirmation asks %q, want it to name the key", got)
	}
	b.run("confirm release", chromedp.Click("#confirm", chromedp.ByQuery), chromedp.WaitVisible(".notice", chromedp.ByQuery))
	if got := b.text(".notice"); !strings.Contains(got, "Released 1 halted ordering key") {
		t.Errorf("notice after the release = %q", got)
	}
	delivered(t, ts, app.ID, m2.ID)
	b.run("endpoint page after the release", chromedp.Reload(), chromedp.WaitVisible("#fifo-counts", chromedp.ByQuery))
	var tables int
	b.run("count halted tables", chromedp.Evaluate(`document.querySelectorAll("#fifo-halted").length`, &tables))
	if tables != 0 {
		t.Errorf("the endpoint page still lists halted keys after the release")
	}

	// A release without the session's CSRF token changes nothing.
	pc := newPageClient(t, ts.url)
	pc.signIn(adminToken)
	rc.succeed.Store(false)
	send("cust-2", &m3)
	send("cust-2", &m4)
	haltedKeys(t, ts, app.ID, ep.ID, 1)
	if code, _ := pc.post("/ui/app/"+app.ID+"/endpoint/"+ep.ID+"/fifo/release", url.Values{"all": {"yes"}, "confirm": {"yes"}}); code != http.StatusForbidden {
		t.Errorf("release without a CSRF token answered %d, want 403", code)
	}
	haltedKeys(t, ts, app.ID, ep.ID, 1)

	// The customer's portal shows the halted key and releases it.
	portalURL, _ := portalAccess(t, ts, app.ID)
	b.run("open portal", chromedp.Navigate(portalURL), chromedp.WaitVisible("#add-endpoint", chromedp.ByQuery))
	b.run("portal endpoint", chromedp.Navigate(ts.url+"/portal/app/"+app.ID+"/endpoint/"+ep.ID),
		chromedp.WaitVisible("#fifo-halted", chromedp.ByQuery))
	if halted := b.text("#fifo-halted"); !strings.Contains(halted, "cust-2") || !strings.Contains(halted, m3.ID) {
		t.Errorf("portal halted keys shown as %q, want cust-2 held by %s", halted, m3.ID)
	}
	b.screenshot("portal_endpoint_fifo")
	rc.succeed.Store(true)
	b.run("portal release all", chromedp.Click("#fifo-release-all", chromedp.ByQuery), chromedp.WaitVisible("#confirm", chromedp.ByQuery),
		chromedp.Click("#confirm", chromedp.ByQuery), chromedp.WaitVisible(".notice", chromedp.ByQuery))
	if got := b.text(".notice"); !strings.Contains(got, "Released 1 halted ordering key") {
		t.Errorf("portal notice after the release = %q", got)
	}
	delivered(t, ts, app.ID, m4.ID)
	haltedKeys(t, ts, app.ID, ep.ID, 0)
}

package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPayloadExpiredPage checks that the dashboard says when retention has purged a
// message's payload, offers no resend, and refuses one posted anyway.
func TestPayloadExpiredPage(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	ts := startServer(t, func(c *serverConfig) {
		c.Now = func() time.Time { return *clock.Load() }
		c.Retention = time.Hour
	})
	rc := newReceiver(t)
	appID, epID, msgID := failedMessage(t, ts, rc)
	pc := newPageClient(t, ts.url)
	csrf := pc.signIn(adminToken)
	page := "/ui/app/" + appID + "/msg/" + msgID
	resend := page + "/endpoint/" + epID + "/resend"
	if code, _, body := pc.get(page); code != http.StatusOK || !strings.Contains(body, `action="`+resend+`"`) {
		t.Fatalf("message page before the retention: %d, resend offered: %v", code, strings.Contains(body, resend))
	}
	later := start.Add(2 * time.Hour)
	clock.Store(&later)
	if err := ts.srv.Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, _, body := pc.get(page)
	if code != http.StatusOK || !strings.Contains(body, "passed its retention period") {
		t.Fatalf("message page after the retention: %d, want it to say the payload is gone:\n%s", code, body)
	}
	if strings.Contains(body, `action="`+resend+`"`) {
		t.Error("message page still offers a resend of a purged message")
	}
	code, body = pc.post(resend, url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if code != http.StatusGone || !strings.Contains(body, "retention") {
		t.Fatalf("resend of a purged message from the dashboard: %d, want 410 saying why:\n%s", code, body)
	}
}

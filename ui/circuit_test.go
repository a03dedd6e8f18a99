package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
)

// TestEndpointCircuitPage opens an endpoint's circuit with one failure and reads it
// through the API and on the dashboard's endpoint page.
func TestEndpointCircuitPage(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.CircuitFailures = 1
		c.CircuitBackoff, c.CircuitMaxBackoff = time.Hour, time.Hour
	})
	rc := newReceiver(t)
	appID, epID, _ := failedMessage(t, ts, rc)
	var c struct {
		State       string     `json:"state"`
		Failures    int        `json:"failures"`
		NextProbeAt *time.Time `json:"nextProbeAt"`
		Transitions []struct {
			From, To, Reason string
		} `json:"transitions"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.State != "open" && time.Now().Before(deadline) {
		ts.do(t, "GET", "/api/v1/app/"+appID+"/endpoint/"+epID+"/circuit", nil, &c)
		time.Sleep(10 * time.Millisecond)
	}
	if c.State != "open" || c.NextProbeAt == nil || len(c.Transitions) != 1 || c.Transitions[0].From != "closed" {
		t.Fatalf("circuit = %+v, want open after one failure, with a next probe and one transition", c)
	}
	pc := newPageClient(t, ts.url)
	pc.signIn(adminToken)
	code, _, body := pc.get("/ui/app/" + appID + "/endpoint/" + epID)
	if code != 200 {
		t.Fatalf("endpoint page = %d", code)
	}
	i := strings.Index(body, `id="circuit"`)
	if i < 0 || !strings.Contains(body[i:min(len(body), i+300)], "open") || !strings.Contains(body[i:], "next probe") {
		t.Errorf("endpoint page shows no open circuit:\n%s", body)
	}
	if !strings.Contains(body, `id="circuit-history"`) || !strings.Contains(body, "HTTP Internal Server Error") {
		t.Errorf("endpoint page shows no circuit history with the failure's reason")
	}
}

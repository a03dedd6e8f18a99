package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestCLIRelay(t *testing.T) {
	t.Parallel()
	c := newCLIEnv(t, "--retry-schedule", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s", "--request-timeout", "5s")
	rc := newReceiver(t)
	c.ok(t, "app", "create", "--name", "Acme", "--uid", "acme")
	c.ok(t, "app", "create", "--name", "Other", "--uid", "other")
	listenArgs := []string{"listen", "--app", "acme", "--forward-to", rc.URL + "/webhooks/in?tenant=acme",
		"--events", "invoice.paid", "--print-secret", "--json", "--name", "relay-test"}
	ln := c.start(t, listenArgs...)
	var first struct{ EndpointID, Secret string }
	if err := json.Unmarshal([]byte(ln.line(t)), &first); err != nil || !strings.HasPrefix(first.Secret, "whsec_") {
		t.Fatalf("--print-secret: %v %+v", err, first)
	}
	rc.setSecret(first.Secret)
	waitFor(t, "the relay to start", func() bool { return strings.Contains(ln.errOut(), "relaying invoice.paid") })
	var ep struct{ URL, RetrySchedule string }
	c.okJSON(t, &ep, "endpoint", "get", "relay-test", "--app", "acme")
	if ep.URL != "relay://relay-test" || ep.RetrySchedule != "exponential:5s,5m,100" {
		t.Errorf("relay endpoint: %+v", ep)
	}

	send := func(eventType, payload string) string {
		var m messageOut
		c.okJSON(t, &m, "message", "send", "--app", "acme", "--event-type", eventType, "--payload", payload)
		return m.ID
	}
	// byID returns what the handler received, by webhook ID.
	byID := func() map[string][]received {
		m := map[string][]received{}
		for _, g := range rc.received() {
			id := g.header.Get("Webhook-Id")
			m[id] = append(m[id], g)
		}
		return m
	}
	var sent []string
	for i := range 3 {
		sent = append(sent, send("invoice.paid", `{"invoice":"in_`+string(rune('1'+i))+`"}`))
	}
	filtered := send("customer.created", `{"customer":"c_1"}`)
	waitFor(t, "three relayed deliveries", func() bool { return len(byID()) == 3 })
	got := byID()
	for _, id := range sent {
		g := got[id]
		if len(g) != 1 {
			t.Fatalf("message %s arrived %d times", id, len(g))
		}
		if g[0].path != "/webhooks/in" || g[0].query != "tenant=acme" || g[0].verifyErr != nil {
			t.Errorf("relayed %s: path %q query %q verify %v", id, g[0].path, g[0].query, g[0].verifyErr)
		}
		if !strings.HasPrefix(g[0].header.Get("User-Agent"), "hookd") || g[0].header.Get("Content-Type") != "application/json" {
			t.Errorf("relayed headers: %v", g[0].header)
		}
	}
	if _, ok := got[filtered]; ok {
		t.Error("a message outside --events was relayed")
	}
	var e entry
	json.Unmarshal([]byte(ln.line(t)), &e)
	if e.Signature != "valid" || e.Status != 200 || e.EventType != "invoice.paid" || e.Answer != "received" {
		t.Errorf("listen printed %+v", e)
	}
	// The local answers are the attempts.
	var atts listOut[attemptOut]
	waitFor(t, "three attempts", func() bool {
		c.okJSON(t, &atts, "attempt", "list", "--app", "acme", "--endpoint", "relay-test")
		return len(atts.Data) == 3
	})
	for _, a := range atts.Data {
		if a.ResponseStatusCode != 200 || a.Status != 0 || a.Response != "received" {
			t.Errorf("attempt %+v", a)
		}
	}

	// A failing handler: hookd retries and logs each failure, then succeeds.
	rc.setStatus(500)
	failing := send("invoice.paid", `{"invoice":"in_fail"}`)
	sent = append(sent, failing)
	waitFor(t, "two tries of the failing message", func() bool { return len(byID()[failing]) >= 2 })
	waitFor(t, "listen to print the failures", func() bool { return strings.Count(ln.out(), `"status":500`) >= 2 })
	rc.setStatus(0)
	waitFor(t, "the failing message's success", func() bool {
		c.okJSON(t, &atts, "attempt", "list", "--app", "acme", "--msg", failing)
		return len(atts.Data) >= 3 && atts.Data[0].ResponseStatusCode == 200
	})
	for _, a := range atts.Data[1:] {
		if a.ResponseStatusCode != 500 || a.Status != 2 {
			t.Errorf("failed attempt %+v", a)
		}
	}

	// Killed mid-stream: what is sent meanwhile waits and arrives once listen is back.
	ln.kill()
	var whileDown []string
	for i := range 3 {
		whileDown = append(whileDown, send("invoice.paid", `{"invoice":"down_`+string(rune('1'+i))+`"}`))
	}
	sent = append(sent, whileDown...)
	waitFor(t, "an attempt that found no listener", func() bool {
		c.okJSON(t, &atts, "attempt", "list", "--app", "acme", "--msg", whileDown[0])
		return len(atts.Data) > 0 && atts.Data[0].Status == 2
	})
	ln = c.start(t, listenArgs...)
	waitFor(t, "every message", func() bool {
		got := byID()
		for _, id := range sent {
			if len(got[id]) == 0 {
				return false
			}
		}
		return true
	})
	for id, gs := range byID() {
		for _, g := range gs {
			if g.verifyErr != nil {
				t.Errorf("%s: %v", id, g.verifyErr)
			}
		}
	}

	// Another application's token cannot take this application's deliveries.
	other := portalToken(t, c, "other")
	r := c.runEnv(t, []string{"HOOKD_TOKEN=" + other}, "listen", "--app", appID(t, c, "acme"), "--forward-to", rc.URL)
	if r.code != exitFailure || !strings.Contains(r.stderr, "403") {
		t.Errorf("another application's token: exit %d, %s", r.code, r.stderr)
	}

	// Ctrl-C removes the endpoint.
	ln.interrupt(t)
	if !strings.Contains(ln.errOut(), "removed the relay endpoint") {
		t.Errorf("listen said:\n%s", ln.errOut())
	}
	c.fails(t, exitFailure, "not_found", "endpoint", "get", "relay-test", "--app", "acme")
	c.fails(t, exitUsage, "--forward-to", "listen", "--app", "acme")
}

// appID returns the ID of the application with the uid.
func appID(t *testing.T, c *cliEnv, uid string) string {
	var a appOut
	c.okJSON(t, &a, "app", "get", uid)
	return a.ID
}

// portalToken returns an application-scoped token of the application.
func portalToken(t *testing.T, c *cliEnv, uid string) string {
	req, _ := http.NewRequest("POST", c.url+"/api/v1/auth/app-portal-access/"+appID(t, c, uid), bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("app-portal-access: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

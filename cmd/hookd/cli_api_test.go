package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/webhook"
)

// receiver is a webhook receiver that verifies every request with the webhook
// package and remembers what it got.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int // answer; 0 means 200
	secret string
}

type received struct {
	path, query string
	header      http.Header
	body        []byte
	verifyErr   error
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		g := received{path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body}
		if rc.secret != "" {
			p, _ := webhook.LookupProfile("standard")
			v, err := webhook.NewVerifier(p, []string{rc.secret})
			if err != nil {
				g.verifyErr = err
			} else {
				g.verifyErr = v.Verify(r.Header, body)
			}
		}
		rc.got = append(rc.got, g)
		if rc.status != 0 {
			w.WriteHeader(rc.status)
		}
		io.WriteString(w, "received")
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	rc.secret = s
	rc.mu.Unlock()
}

func (rc *receiver) setStatus(code int) {
	rc.mu.Lock()
	rc.status = code
	rc.mu.Unlock()
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits for cond for at most 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	hookdtest.Eventually(t, 30*time.Second, what, cond)
}

type endpointOut struct {
	ID, UID, URL string
	FilterTypes  []string
	Disabled     bool
}

type messageOut struct {
	ID, EventType, EventID string
}

type attemptOut struct {
	ID, MsgID, EndpointID string
	ResponseStatusCode    int
	Status                int
	Response              string
}

func TestCLIEndpointMessageAttempt(t *testing.T) {
	t.Parallel()
	c := newCLIEnv(t)
	rc := newReceiver(t)
	c.ok(t, "app", "create", "--name", "Acme", "--uid", "acme")

	out := c.ok(t, "endpoint", "create", "--app", "acme", "--endpoint-url", rc.URL+"/hook", "--uid", "main", "--events", "invoice.paid")
	if !strings.Contains(out, "ep_") || !strings.Contains(out, "invoice.paid") {
		t.Errorf("endpoint create printed:\n%s", out)
	}
	var ep endpointOut
	c.okJSON(t, &ep, "endpoint", "get", "main", "--app", "acme")
	if ep.URL != rc.URL+"/hook" || len(ep.FilterTypes) != 1 {
		t.Errorf("endpoint get --json = %+v", ep)
	}
	secret := strings.TrimSpace(c.ok(t, "endpoint", "secret", "main", "--app", "acme"))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoint secret printed %q", secret)
	}
	rc.setSecret(secret)
	var key struct{ Key string }
	c.okJSON(t, &key, "endpoint", "secret", "main", "--app", "acme")
	if key.Key != secret {
		t.Errorf("endpoint secret --json = %+v", key)
	}
	c.okJSON(t, &ep, "endpoint", "update", "main", "--app", "acme", "--events", "invoice.paid,invoice.failed")
	if len(ep.FilterTypes) != 2 {
		t.Errorf("endpoint update: filterTypes %v", ep.FilterTypes)
	}
	var filtered struct{ PayloadFilter json.RawMessage }
	c.okJSON(t, &filtered, "endpoint", "update", "main", "--app", "acme", "--payload-filter", `{"path": "n", "gte": 0}`)
	var compact bytes.Buffer
	if json.Compact(&compact, filtered.PayloadFilter) != nil || compact.String() != `{"path":"n","gte":0}` {
		t.Errorf("endpoint update --payload-filter: payloadFilter %s", filtered.PayloadFilter)
	}
	c.okJSON(t, &filtered, "endpoint", "update", "main", "--app", "acme", "--payload-filter", "null")
	if string(filtered.PayloadFilter) != "null" {
		t.Errorf("endpoint update --payload-filter null: payloadFilter %s", filtered.PayloadFilter)
	}
	var capped struct{ MaxConcurrency *int }
	c.okJSON(t, &capped, "endpoint", "update", "main", "--app", "acme", "--max-concurrency", "3")
	if capped.MaxConcurrency == nil || *capped.MaxConcurrency != 3 {
		t.Errorf("endpoint update --max-concurrency 3: maxConcurrency %v", capped.MaxConcurrency)
	}
	var eps listOut[endpointOut]
	c.okJSON(t, &eps, "endpoint", "list", "--app", "acme")
	if len(eps.Data) != 1 || eps.Data[0].UID != "main" {
		t.Errorf("endpoint list: %+v", eps.Data)
	}
	if out := c.ok(t, "endpoint", "list", "--app", "acme"); !strings.Contains(out, "URL") || !strings.Contains(out, rc.URL) {
		t.Errorf("endpoint list:\n%s", out)
	}
	c.fails(t, exitUsage, "--app", "endpoint", "list")
	c.fails(t, exitFailure, "not_found", "endpoint", "get", "ep_missing", "--app", "acme")
	c.fails(t, exitFailure, "not_found", "endpoint", "list", "--app", "nobody")

	// Event types.
	schema := `{"type":"object","examples":[{"invoice":"in_1","amount":1200}]}`
	out = c.ok(t, "event-type", "create", "invoice.paid", "--description", "An invoice was paid", "--schema", schema)
	if !strings.Contains(out, "invoice.paid") {
		t.Errorf("event-type create printed:\n%s", out)
	}
	var et struct {
		Name, Description string
		Deprecated        bool
		Schemas           map[string]any
	}
	c.okJSON(t, &et, "event-type", "update", "invoice.paid", "--deprecated")
	if !et.Deprecated || et.Description != "An invoice was paid" {
		t.Errorf("event-type update: %+v", et)
	}
	c.okJSON(t, &et, "event-type", "get", "invoice.paid")
	if et.Schemas["1"] == nil {
		t.Errorf("event-type get: no schema: %+v", et)
	}
	c.ok(t, "event-type", "create", "invoice.failed")
	var ets listOut[struct{ Name string }]
	c.okJSON(t, &ets, "event-type", "list", "--limit", "1", "--all")
	if len(ets.Data) != 2 {
		t.Errorf("event-type list --all: %+v", ets.Data)
	}
	if out := c.ok(t, "event-type", "delete", "invoice.failed"); !strings.Contains(out, "archived") {
		t.Errorf("event-type delete printed %q", out)
	}
	c.okJSON(t, &ets, "event-type", "list")
	if len(ets.Data) != 1 {
		t.Errorf("event-type list after archiving: %+v", ets.Data)
	}
	c.fails(t, exitFailure, "not_found", "event-type", "get", "no.such.type")

	// Messages, delivered to the receiver and verified there.
	var msg messageOut
	c.okJSON(t, &msg, "message", "send", "--app", "acme", "--event-type", "invoice.paid", "--payload", `{"invoice":"in_42"}`, "--event-id", "evt_1")
	if !strings.HasPrefix(msg.ID, "msg_") || msg.EventID != "evt_1" {
		t.Fatalf("message send --json = %+v", msg)
	}
	payloadFile := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(payloadFile, []byte(`{"invoice":"in_43"}`), 0o600)
	out = c.ok(t, "message", "send", "--app", "acme", "--event-type", "invoice.paid", "--payload", "@"+payloadFile)
	if !strings.Contains(out, "msg_") {
		t.Errorf("message send printed:\n%s", out)
	}
	c.fails(t, exitFailure, "conflict", "message", "send", "--app", "acme", "--event-type", "invoice.paid", "--payload", `{}`, "--event-id", "evt_1")
	c.fails(t, exitUsage, "--payload", "message", "send", "--app", "acme", "--event-type", "invoice.paid", "--payload", `{not json`)
	waitFor(t, "two deliveries", func() bool { return len(rc.received()) == 2 })
	for _, g := range rc.received() {
		if g.verifyErr != nil || g.path != "/hook" {
			t.Errorf("delivery to %s: %v", g.path, g.verifyErr)
		}
	}
	var msgs listOut[messageOut]
	c.okJSON(t, &msgs, "message", "list", "--app", "acme", "--limit", "1", "--all")
	if len(msgs.Data) != 2 {
		t.Errorf("message list --all: %+v", msgs.Data)
	}
	if out := c.ok(t, "message", "get", msg.ID, "--app", "acme"); !strings.Contains(out, "in_42") {
		t.Errorf("message get:\n%s", out)
	}
	c.fails(t, exitFailure, "not_found", "message", "get", "msg_missing", "--app", "acme")

	var atts listOut[attemptOut]
	waitFor(t, "two attempts", func() bool {
		c.okJSON(t, &atts, "attempt", "list", "--app", "acme", "--endpoint", "main")
		return len(atts.Data) == 2
	})
	if atts.Data[0].ResponseStatusCode != 200 || atts.Data[0].Status != 0 {
		t.Errorf("attempt: %+v", atts.Data[0])
	}
	c.okJSON(t, &atts, "attempt", "list", "--app", "acme", "--msg", msg.ID)
	if len(atts.Data) != 1 || atts.Data[0].MsgID != msg.ID {
		t.Fatalf("attempt list --msg: %+v", atts.Data)
	}
	var att attemptOut
	c.okJSON(t, &att, "attempt", "get", atts.Data[0].ID, "--app", "acme", "--msg", msg.ID)
	if att.Response != "received" {
		t.Errorf("attempt get: %+v", att)
	}
	if out := c.ok(t, "attempt", "list", "--app", "acme", "--msg", msg.ID, "--endpoint", "main"); !strings.Contains(out, atts.Data[0].ID) {
		t.Errorf("attempt list --msg --endpoint:\n%s", out)
	}
	c.fails(t, exitUsage, "--msg", "attempt", "list", "--app", "acme")
	c.fails(t, exitFailure, "not_found", "attempt", "get", "atmpt_missing", "--app", "acme", "--msg", msg.ID)

	// Resend, rotate, stats, recover.
	c.ok(t, "message", "resend", msg.ID, "--app", "acme", "--endpoint", "main")
	waitFor(t, "the resent delivery", func() bool { return len(rc.received()) == 3 })
	if out := c.ok(t, "endpoint", "rotate-secret", "main", "--app", "acme"); !strings.Contains(out, "rotated") {
		t.Errorf("rotate-secret printed %q", out)
	}
	if s := strings.TrimSpace(c.ok(t, "endpoint", "secret", "main", "--app", "acme")); s == secret {
		t.Error("the secret did not change")
	}
	out = c.ok(t, "endpoint", "headers", "main", "--app", "acme", "--set", "X-Tenant=acme", "--set", "X-Old=1")
	if !strings.Contains(out, "X-Tenant") || !strings.Contains(out, "X-Old") {
		t.Errorf("endpoint headers --set:\n%s", out)
	}
	var hdrs struct{ Headers map[string]string }
	c.okJSON(t, &hdrs, "endpoint", "headers", "main", "--app", "acme", "--delete", "X-Old")
	if len(hdrs.Headers) != 1 || hdrs.Headers["X-Tenant"] != "acme" {
		t.Errorf("endpoint headers --delete --json: %+v", hdrs)
	}
	c.fails(t, exitUsage, "KEY=VALUE", "endpoint", "headers", "main", "--app", "acme", "--set", "novalue")
	var stats struct{ Success int }
	c.okJSON(t, &stats, "endpoint", "stats", "main", "--app", "acme")
	if stats.Success != 2 {
		t.Errorf("endpoint stats: %+v", stats)
	}
	r := c.run(t, "endpoint", "recover", "main", "--app", "acme", "--since", "1h")
	if r.code != 0 || !strings.Contains(r.stdout, "endpoint.recover") || !strings.Contains(r.stderr, "recovering") {
		t.Errorf("endpoint recover: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	c.fails(t, exitUsage, "--since", "endpoint", "recover", "main", "--app", "acme", "--since", "yesterday")
	r = c.run(t, "endpoint", "recover", "main", "--app", "acme", "--since", "1h", "--wait", "--json")
	var task struct{ ID, Status, Task string }
	if err := json.Unmarshal([]byte(r.stdout), &task); r.code != 0 || err != nil || task.Status != "finished" || !strings.Contains(r.stderr, "task "+task.ID) {
		t.Errorf("endpoint recover --wait: exit %d %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	before := len(rc.received())
	r = c.run(t, "endpoint", "bulk-replay", "main", "--app", "acme", "--since", "1h", "--event-types", "invoice.paid", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "finished") || !strings.Contains(r.stderr, "replaying to endpoint main") {
		t.Errorf("endpoint bulk-replay --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, "the replayed messages", func() bool { return len(rc.received()) >= before+2 })
	if out := c.ok(t, "endpoint", "replay-missing", "main", "--app", "acme", "--since", "1h", "--wait"); !strings.Contains(out, "endpoint.replay") {
		t.Errorf("endpoint replay-missing --wait:\n%s", out)
	}
	var tasks listOut[struct{ ID, Status, Task string }]
	c.okJSON(t, &tasks, "task", "list", "--limit", "2", "--all")
	if len(tasks.Data) != 4 {
		t.Errorf("task list --all: %+v", tasks.Data)
	}
	if out := c.ok(t, "task", "get", task.ID); !strings.Contains(out, "endpoint.recover") {
		t.Errorf("task get:\n%s", out)
	}
	c.fails(t, exitFailure, "404", "background-task", "get", "qtask_1srOrx2ZWZBpBUvZwXKQmoEYga2")
	c.ok(t, "endpoint", "delete", "main", "--app", "acme")
	c.fails(t, exitFailure, "not_found", "endpoint", "secret", "main", "--app", "acme")
}

func TestCLILogin(t *testing.T) {
	c := newCLIEnv(t)
	// Without HOOKD_URL and HOOKD_TOKEN, only the saved profile connects.
	c.env = c.env[:2]
	c.fails(t, exitUsage, "no API token", "app", "list")
	c.fails(t, exitFailure, "401", "login", "--url", c.url, "--token", "wrong-token-0123456789")
	out := c.ok(t, "login", "--url", c.url, "--token", c.token)
	if !strings.Contains(out, `saved profile "default"`) {
		t.Errorf("login printed %q", out)
	}
	path := filepath.Join(strings.TrimPrefix(c.env[1], "XDG_CONFIG_HOME="), "hookd", "profiles.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("profiles.json has mode %v, want 0600", fi.Mode().Perm())
	}
	c.ok(t, "app", "create", "--name", "via profile")
	// A second profile pointing elsewhere becomes current; --profile picks the first.
	c.ok(t, "login", "--profile", "broken", "--url", "http://127.0.0.1:1", "--token", "x", "--no-check")
	c.fails(t, exitError, "connection refused", "app", "list")
	if out := c.ok(t, "app", "list", "--profile", "default"); !strings.Contains(out, "via profile") {
		t.Errorf("app list --profile default:\n%s", out)
	}
	if out := c.ok(t, "app", "list", "--url", c.url, "--token", c.token); !strings.Contains(out, "via profile") {
		t.Errorf("flags over profile:\n%s", out)
	}
	c.fails(t, exitUsage, "no profile", "app", "list", "--profile", "nope")
	// An application token logs in too, and reaches its application.
	c.ok(t, "login", "--profile", "default")
	acme := c.ok(t, "app", "create", "--name", "Acme", "--uid", "acme", "--json")
	var app appOut
	json.Unmarshal([]byte(acme), &app)
	c.ok(t, "login", "--profile", "portal", "--url", c.url, "--token", portalToken(t, c, "acme"))
	if out := c.ok(t, "endpoint", "list", "--app", app.ID); !strings.HasPrefix(out, "ID") {
		t.Errorf("endpoint list with an application token:\n%s", out)
	}
	c.fails(t, exitFailure, "403", "app", "list")
	out = c.ok(t, "login", "--list")
	if !strings.Contains(out, "broken") || !strings.Contains(out, "default") || strings.Contains(out, c.token) {
		t.Errorf("login --list:\n%s", out)
	}
}

func TestCLIPolish(t *testing.T) {
	c := &cliEnv{bin: buildBinaryOrSkip(t)}
	if out := c.ok(t, "--version"); !strings.HasPrefix(out, "hookd ") {
		t.Errorf("--version printed %q", out)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := c.ok(t, "completion", sh); !strings.Contains(out, "hookd") || len(out) < 500 {
			t.Errorf("completion %s printed %d bytes", sh, len(out))
		}
	}
	r := c.runEnv(t, []string{"HOOKD_ADRR=127.0.0.1:9"}, "serve", "--db", filepath.Join(t.TempDir(), "x.db"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "HOOKD_ADRR") || !strings.Contains(r.stderr, "HOOKD_ADDR") {
		t.Errorf("unknown variable: exit %d, stderr %q", r.code, r.stderr)
	}
	c.fails(t, exitUsage, "unknown command", "aplication", "list")
	r = c.run(t, "serve", "--addr", "127.0.0.1:0", "--db", "host=127.0.0.1 user=postgres dbname=test")
	if r.code != exitUsage || !strings.Contains(r.stderr, "postgres://") {
		t.Errorf("keyword/value --db: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat("host=127.0.0.1 user=postgres dbname=test"); err == nil {
		t.Error("the refused --db was created as a SQLite file")
	}
	if r := c.run(t, "app", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("app --help: exit %d\n%s", r.code, r.stdout)
	}
}

// TestEveryCommandHasAnExample walks the command tree: every command a user runs
// shows an example in its --help.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobraCommand)
	walk = func(c *cobraCommand) {
		if c.Runnable() && c.Example == "" && c.Name() != "help" && !strings.HasPrefix(c.CommandPath(), "hookd completion") {
			t.Errorf("%s has no example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}

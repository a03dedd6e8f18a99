package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/webhook"
)

// bgProcess is a long-running hookd command (listen), its output read as it comes.
type bgProcess struct {
	cmd   *exec.Cmd
	lines chan string // stdout, line by line
	done  chan struct{}

	mu     sync.Mutex
	stderr bytes.Buffer
	stdout bytes.Buffer
}

// start runs the binary in the background; it is stopped when the test ends.
func (c *cliEnv) start(t *testing.T, args ...string) *bgProcess {
	t.Helper()
	p := &bgProcess{cmd: exec.Command(c.bin, args...), lines: make(chan string, 1000), done: make(chan struct{})}
	p.cmd.Env = hookdtest.Environ(c.env...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("hookd %s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.out(), p.errOut())
		}
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *bgProcess) errOut() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *bgProcess) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

var listeningLine = regexp.MustCompile(`listening on (http://\S+)`)

// waitListening returns the URL the process printed it listens on.
func (p *bgProcess) waitListening(t *testing.T) string {
	t.Helper()
	var url string
	waitFor(t, "the listening line", func() bool {
		if m := listeningLine.FindStringSubmatch(p.errOut()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	return url
}

// line returns the next line of output, within 30 seconds.
func (p *bgProcess) line(t *testing.T) string {
	t.Helper()
	select {
	case l := <-p.lines:
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("no output within 30s")
		return ""
	}
}

// interrupt sends SIGINT, as Ctrl-C does, and waits for the exit.
func (p *bgProcess) interrupt(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGINT")
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (p *bgProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

const (
	listenSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	newSecret    = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

func TestCLIListenReplayTrigger(t *testing.T) {
	c := newCLIEnv(t)
	capDir := filepath.Join(t.TempDir(), "captures")
	ln := c.start(t, "listen", "--port", "0", "--secret", listenSecret, "--capture-dir", capDir, "--json")
	inbox := ln.waitListening(t)

	c.ok(t, "app", "create", "--name", "Acme", "--uid", "acme")
	c.ok(t, "endpoint", "create", "--app", "acme", "--uid", "local", "--endpoint-url", inbox+"/webhooks?tenant=acme", "--secret", listenSecret)
	c.ok(t, "event-type", "create", "invoice.paid", "--schema", `{"type":"object","examples":[{"type":"invoice.paid","invoice":"in_example","amount":1200}]}`)
	var msg messageOut
	c.okJSON(t, &msg, "message", "send", "--app", "acme", "--event-type", "invoice.paid", "--payload", `{"type":"invoice.paid","invoice":"in_42"}`)

	var e entry
	if err := json.Unmarshal([]byte(ln.line(t)), &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != msg.ID || e.Signature != "valid" || e.EventType != "invoice.paid" || e.Path != "/webhooks" || e.Query != "tenant=acme" || e.Status != 200 {
		t.Errorf("listen --json: %+v", e)
	}
	if string(e.Body) != `{"type":"invoice.paid","invoice":"in_42"}` || e.Capture == "" {
		t.Errorf("listen --json body %s, capture %q", e.Body, e.Capture)
	}

	// The capture is the raw request 'hookd verify' reads.
	c.ok(t, "verify", "--secret", listenSecret, "--request-file", e.Capture, "--ignore-timestamp")

	// trigger sends the schema's example.
	var trig messageOut
	c.okJSON(t, &trig, "trigger", "invoice.paid", "--app", "acme")
	if err := json.Unmarshal([]byte(ln.line(t)), &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != trig.ID || !strings.Contains(string(e.Body), "in_example") || e.Signature != "valid" {
		t.Errorf("triggered: %+v", e)
	}
	// To one endpoint, through send-example.
	c.okJSON(t, &trig, "trigger", "invoice.paid", "--app", "acme", "--endpoint", "local")
	if err := json.Unmarshal([]byte(ln.line(t)), &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != trig.ID || !strings.Contains(string(e.Body), "in_example") || e.Signature != "valid" {
		t.Errorf("triggered to one endpoint: %+v", e)
	}
	c.fails(t, exitUsage, "do not apply", "trigger", "invoice.paid", "--app", "acme", "--endpoint", "local", "--payload", "{}")
	c.ok(t, "event-type", "create", "no.schema")
	c.fails(t, exitFailure, "no schema", "trigger", "no.schema", "--app", "acme")
	c.fails(t, exitFailure, "not_found", "trigger", "missing.type", "--app", "acme")
	ln.interrupt(t)

	caps, _ := filepath.Glob(filepath.Join(capDir, "*.http"))
	if len(caps) != 3 {
		t.Fatalf("captures: %v", caps)
	}

	// Byte for byte: the receiver sees the captured request, and it verifies
	// (without the timestamp check, since it is old by now).
	rc := newReceiver(t)
	out := c.ok(t, "replay", caps[0], "--to", rc.URL)
	if !strings.Contains(out, "200 OK") {
		t.Errorf("replay printed %q", out)
	}
	got := rc.received()
	raw, _ := os.ReadFile(caps[0])
	h, body, _, err := parseCapturedRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0].body, body) || got[0].path != "/webhooks" || got[0].query != "tenant=acme" {
		t.Fatalf("replayed: %+v", got)
	}
	for _, name := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "User-Agent", "Content-Type"} {
		if got[0].header.Get(name) != h.Get(name) || h.Get(name) == "" {
			t.Errorf("header %s: replayed %q, captured %q", name, got[0].header.Get(name), h.Get(name))
		}
	}
	p, _ := webhook.LookupProfile("standard")
	v, _ := webhook.NewVerifier(p, []string{listenSecret}, webhook.WithoutTimestampCheck())
	if err := v.Verify(got[0].header, got[0].body); err != nil {
		t.Errorf("the byte-for-byte replay does not verify: %v", err)
	}

	// Re-signed with a new secret and a fresh timestamp: verifies with the new
	// secret, timestamp check included, and keeps its webhook ID.
	rc2 := newReceiver(t)
	rc2.setSecret(newSecret)
	var res replayResult
	outJSON := c.ok(t, "replay", caps[0], caps[1], "--to", rc2.URL+"/other", "--resign", "--secret", newSecret, "--json")
	lines := strings.Split(strings.TrimSpace(outJSON), "\n")
	if len(lines) != 2 {
		t.Fatalf("replay --json printed %q", outJSON)
	}
	json.Unmarshal([]byte(lines[0]), &res)
	if res.Status != 200 || !res.Resigned || res.ID != h.Get("Webhook-Id") {
		t.Errorf("replay --json: %+v", res)
	}
	got = rc2.received()
	if len(got) != 2 || got[0].verifyErr != nil || got[1].verifyErr != nil || got[0].path != "/other" {
		t.Fatalf("re-signed replays: %+v", got)
	}
	if got[0].header.Get("Webhook-Id") != h.Get("Webhook-Id") || got[0].header.Get("Webhook-Signature") == h.Get("Webhook-Signature") {
		t.Errorf("re-signed: id %q signature %q", got[0].header.Get("Webhook-Id"), got[0].header.Get("Webhook-Signature"))
	}
	// The old signature does not verify under the new secret: replaying byte for byte
	// to that receiver is refused by its check.
	c.ok(t, "replay", caps[0], "--to", rc2.URL)
	if g := rc2.received(); len(g) != 3 || g[2].verifyErr == nil {
		t.Errorf("byte-for-byte replay verified under the new secret")
	}

	rc2.setStatus(500)
	r := c.run(t, "replay", caps[0], "--to", rc2.URL)
	if r.code != exitFailure || !strings.Contains(r.stdout, "500") {
		t.Errorf("replay to a failing receiver: exit %d, %q", r.code, r.stdout)
	}
	c.fails(t, exitUsage, "--secret", "replay", caps[0], "--to", rc.URL, "--resign")
	c.fails(t, exitUsage, "--to", "replay", caps[0])
	c.fails(t, exitUsage, "not a raw HTTP request", "replay", writeTemp(t, "garbage"), "--to", rc.URL)
	c.fails(t, exitError, "could not be sent", "replay", caps[0], "--to", "http://127.0.0.1:1")
}

func TestCLIListenStatus(t *testing.T) {
	t.Parallel()
	c := newCLIEnv(t, "--retry-schedule", "1s,1s")
	ln := c.start(t, "listen", "--port", "0", "--status", "503")
	inbox := ln.waitListening(t)
	c.ok(t, "app", "create", "--name", "Acme", "--uid", "acme")
	c.ok(t, "endpoint", "create", "--app", "acme", "--uid", "local", "--endpoint-url", inbox)
	var msg messageOut
	c.okJSON(t, &msg, "message", "send", "--app", "acme", "--event-type", "x", "--payload", `{"n":1}`)
	// The first try and two retries, each printed with its indented body.
	waitFor(t, "three requests", func() bool { return strings.Count(ln.out(), "→ 503") == 3 })
	for _, l := range strings.Split(ln.out(), "\n") {
		if strings.Contains(l, "→") && (!strings.Contains(l, msg.ID) || !strings.Contains(l, "signature unverified")) {
			t.Errorf("listen printed %q", l)
		}
	}
	if !strings.Contains(ln.out(), `"n": 1`) {
		t.Errorf("listen did not print the body:\n%s", ln.out())
	}
	var atts listOut[attemptOut]
	waitFor(t, "three failed attempts", func() bool {
		c.okJSON(t, &atts, "attempt", "list", "--app", "acme", "--msg", msg.ID)
		return len(atts.Data) == 3
	})
	for _, a := range atts.Data {
		if a.ResponseStatusCode != 503 {
			t.Errorf("attempt %+v", a)
		}
	}
	c.fails(t, exitUsage, "--status", "listen", "--status", "42")
	c.fails(t, exitUsage, "--profile", "listen", "--profile", "nonsense")
}

func writeTemp(t *testing.T, content string) string {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

var _ = io.Discard

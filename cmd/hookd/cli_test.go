package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/hookdtest"
)

// cliToken is the admin token of the servers the CLI tests start.
const cliToken = "cli-test-admin-token-0123456789"

// cliEnv runs the real hookd binary against one server, with a config directory of
// its own.
type cliEnv struct {
	bin, url, token string
	env             []string
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// newCLIEnv starts `hookd serve` on a fresh SQLite file and returns a CLI that talks
// to it through --url and --token given as HOOKD_URL and HOOKD_TOKEN.
func newCLIEnv(t *testing.T, serveArgs ...string) *cliEnv {
	t.Helper()
	bin := hookdtest.BuildBinary(t)
	db := filepath.Join(t.TempDir(), "hookd.db")
	args := append([]string{"--addr", "127.0.0.1:0", "--db", db, "--allow-private"}, serveArgs...)
	p := hookdtest.StartServe(t, bin, []string{"HOOKD_ADMIN_TOKEN=" + cliToken}, args...)
	home := t.TempDir()
	return &cliEnv{bin: bin, url: p.URL, token: cliToken, env: []string{
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"HOOKD_URL=" + p.URL, "HOOKD_TOKEN=" + cliToken,
	}}
}

// run runs the binary with args and waits for it (at most a minute).
func (c *cliEnv) run(t *testing.T, args ...string) result {
	t.Helper()
	return c.runEnv(t, nil, args...)
}

func (c *cliEnv) runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = hookdtest.Environ(append(append([]string{}, c.env...), env...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("hookd %s did not exit within a minute", strings.Join(args, " "))
	}
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// ok runs args, fails the test unless hookd exits 0, and returns its output.
func (c *cliEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := c.run(t, args...)
	if r.code != 0 {
		t.Fatalf("hookd %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs args with --json and decodes the output.
func (c *cliEnv) okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.ok(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("hookd %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs args and checks the exit code and that stderr mentions want.
func (c *cliEnv) fails(t *testing.T, code int, want string, args ...string) result {
	t.Helper()
	r := c.run(t, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("hookd %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
	return r
}

type listOut[T any] struct {
	Data     []T     `json:"data"`
	Done     bool    `json:"done"`
	Iterator *string `json:"iterator"`
}

type appOut struct {
	ID, UID, Name string
	Metadata      map[string]string
}

func TestCLIApp(t *testing.T) {
	c := newCLIEnv(t)

	out := c.ok(t, "app", "create", "--name", "Acme Corp", "--uid", "acme", "--metadata", "plan=pro")
	for _, want := range []string{"ID:", "app_", "acme", "Acme Corp"} {
		if !strings.Contains(out, want) {
			t.Errorf("app create printed %q, want %q in it", out, want)
		}
	}
	var got appOut
	c.okJSON(t, &got, "app", "get", "acme")
	if !strings.HasPrefix(got.ID, "app_") || got.Name != "Acme Corp" || got.Metadata["plan"] != "pro" {
		t.Errorf("app get --json = %+v", got)
	}
	c.okJSON(t, &got, "app", "update", "acme", "--name", "Acme Inc.")
	if got.Name != "Acme Inc." || got.UID != "acme" {
		t.Errorf("app update --json = %+v", got)
	}

	// Seven applications listed three at a time: one page, then all of them.
	for i := range 6 {
		c.ok(t, "app", "create", "--name", "customer", "--uid", "c"+string(rune('a'+i)))
	}
	r := c.run(t, "app", "list", "--limit", "3")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stderr, "--iterator") {
		t.Errorf("app list --limit 3: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "ID") || !strings.Contains(r.stdout, "NAME") {
		t.Errorf("app list prints no table header:\n%s", r.stdout)
	}
	var page listOut[appOut]
	c.okJSON(t, &page, "app", "list", "--limit", "3")
	if len(page.Data) != 3 || page.Done || page.Iterator == nil {
		t.Fatalf("app list --limit 3 --json: %d items, done %v", len(page.Data), page.Done)
	}
	var next listOut[appOut]
	c.okJSON(t, &next, "app", "list", "--limit", "3", "--iterator", *page.Iterator)
	if len(next.Data) != 3 || next.Data[0].ID == page.Data[0].ID {
		t.Errorf("second page: %+v", next.Data)
	}
	var all listOut[appOut]
	c.okJSON(t, &all, "app", "list", "--limit", "3", "--all")
	seen := map[string]bool{}
	for _, a := range all.Data {
		seen[a.ID] = true
	}
	if len(all.Data) != 7 || len(seen) != 7 || !all.Done {
		t.Errorf("app list --all: %d items (%d distinct), done %v", len(all.Data), len(seen), all.Done)
	}
	if out := c.ok(t, "app", "list", "--limit", "2", "--all"); strings.Count(out, "\n") != 8 {
		t.Errorf("app list --all prints %d lines, want a header and 7 rows:\n%s", strings.Count(out, "\n"), out)
	}

	c.ok(t, "app", "delete", "ca")
	c.fails(t, exitFailure, "not_found", "app", "get", "ca")
	r = c.fails(t, exitFailure, "404", "app", "delete", "app_nonexistent")
	if r.stdout != "" {
		t.Errorf("a failed command printed %q on stdout", r.stdout)
	}
	c.fails(t, exitFailure, "conflict", "app", "create", "--name", "again", "--uid", "acme")

	// A bad token, no token, usage errors.
	r = c.runEnv(t, []string{"HOOKD_TOKEN=wrong-token-0123456789"}, "app", "list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "authentication") {
		t.Errorf("bad token: exit %d, stderr %q", r.code, r.stderr)
	}
	c.fails(t, exitUsage, "--name", "app", "create")
	c.fails(t, exitUsage, "accepts 1 arg", "app", "get")
	c.fails(t, exitUsage, "unknown flag", "app", "list", "--colour")
	c.fails(t, exitUsage, "--limit", "app", "list", "--limit", "0")
	c.fails(t, exitError, "connection refused", "app", "list", "--url", "http://127.0.0.1:1")
	c.fails(t, exitUsage, "not an http", "app", "list", "--url", "ftp://x")
}

type cobraCommand = cobra.Command

// buildBinaryOrSkip returns the hookd binary.
func buildBinaryOrSkip(t *testing.T) string { return hookdtest.BuildBinary(t) }

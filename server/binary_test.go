package server_test

import (
	"bufio"
	"context"
	"errors"
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
)

var (
	listenLine = regexp.MustCompile(`^hookd: listening on (http://\S+)`)
	tokenLine  = regexp.MustCompile(`^\s+(hkd_\S+)$`)
)

// buildHookd builds the hookd binary into a temporary directory.
func buildHookd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hookd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/hookd/hookd/cmd/hookd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is a running `hookd serve`.
type serveProcess struct {
	cmd   *exec.Cmd
	url   string
	token string // the generated token, if one was printed

	mu     sync.Mutex
	output strings.Builder // what the process printed so far, guarded by mu
}

// printed returns what the process has printed so far.
func (p *serveProcess) printed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// startServe runs `hookd serve` without HOOKD_* variables and waits for its
// listening line.
func startServe(t *testing.T, bin string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{cmd: exec.Command(bin, append([]string{"serve"}, args...)...)}
	p.cmd.Env = withoutHookdEnv(os.Environ())
	startProcess(t, p)
	return p
}

// startProcess starts p's command and waits for its listening line.
func startProcess(t *testing.T, p *serveProcess) {
	t.Helper()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				p.token = m[1]
			}
			if m := listenLine.FindStringSubmatch(line); m != nil && p.url == "" {
				p.url = m[1]
				close(found)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line within 30s; output:\n%s", p.printed())
	}
}

// stop sends SIGINT and expects a clean exit.
func (p *serveProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hookd serve exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hookd serve did not exit within 30s of SIGINT")
	}
}

func withoutHookdEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "HOOKD_") {
			out = append(out, e)
		}
	}
	return out
}

func TestServeBinaryAdminToken(t *testing.T) {
	bin := buildHookd(t)
	db := filepath.Join(t.TempDir(), "hookd.db")
	ctx := context.Background()

	first := startServe(t, bin, "--addr", "127.0.0.1:0", "--db", db)
	if first.token == "" {
		t.Fatalf("first start printed no admin token; output:\n%s", first.printed())
	}
	if _, err := newClient(t, first.url, first.token).Application.List(ctx, nil); err != nil {
		t.Fatalf("API with the printed token: %v", err)
	}
	_, err := newClient(t, first.url, first.token+"x").Application.List(ctx, nil)
	wantStatus(t, err, 401)
	first.stop(t)

	second := startServe(t, bin, "--addr", "127.0.0.1:0", "--db", db)
	if second.token != "" || strings.Contains(second.printed(), "hkd_") {
		t.Fatalf("restart printed a token again; output:\n%s", second.printed())
	}
	if _, err := newClient(t, second.url, first.token).Application.List(ctx, nil); err != nil {
		t.Fatalf("first token after restart: %v", err)
	}
	second.stop(t)
}

func TestServeBinaryBadFlag(t *testing.T) {
	bin := buildHookd(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"retry schedule", []string{"--retry-schedule", "soon"}, "retry-schedule"},
		{"short token", []string{"--admin-token", "short"}, "admin-token"},
		{"cidr", []string{"--allow-cidr", "10.0.0.0"}, "allow-cidr"},
		{"log format", []string{"--log-format", "xml"}, "log-format"},
		{"address without port", []string{"--addr", "localhost"}, "addr"},
		{"address with a bad port", []string{"--addr", "127.0.0.1:99999"}, "addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve", "--db", filepath.Join(t.TempDir(), "h.db")}, tt.args...)...)
			cmd.Env = withoutHookdEnv(os.Environ())
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
				t.Fatalf("exit %v, output %q; want exit 2 naming %s", err, out, tt.want)
			}
		})
	}
}

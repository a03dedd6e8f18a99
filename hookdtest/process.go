package hookdtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	listenLine = regexp.MustCompile(`^hookd: listening on (http://\S+)`)
	tokenLine  = regexp.MustCompile(`^\s+(hkd_\S+)$`)
)

// startWait is how long StartServe waits for the listening line, and Stop for the
// process to exit.
const startWait = 30 * time.Second

// Process is a running `hookd serve`.
type Process struct {
	// URL is the base URL the process printed once listening.
	URL string
	// Token is the admin token the process generated and printed, if it did.
	Token string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and its output is read
	err  error         // its exit status, once done

	mu     sync.Mutex
	output strings.Builder // stdout and stderr so far, guarded by mu
}

// StartServe runs `bin serve args...` and waits until it prints its listening line.
// The process gets the test's environment without its HOOKD_* variables, plus env,
// so only what the test passes configures it. It is stopped when the test ends: a
// SIGTERM, then a SIGKILL if it has not exited within 10 seconds. If the test
// failed, its last 30 lines are logged.
func StartServe(t *testing.T, bin string, env []string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = Environ(env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start hookd serve: %v", err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	type listening struct{ url, token string }
	found := make(chan listening, 1)
	go func() {
		var token string
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				token = m[1]
			}
			if m := listenLine.FindStringSubmatch(line); m != nil {
				select {
				case found <- listening{m[1], token}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.Kill()
			}
		}
		if t.Failed() && p.URL != "" { // before listening, the failure shows all output
			t.Logf("hookd serve on %s, last lines:\n%s", p.URL, p.lastLines(30))
		}
	})
	select {
	case l := <-found:
		p.URL, p.Token = l.url, l.token
	case <-p.done:
		t.Fatalf("hookd serve exited (%v) before listening:\n%s", p.err, p.Printed())
	case <-time.After(startWait):
		t.Fatalf("hookd serve printed no listening line within %s:\n%s", startWait, p.Printed())
	}
	return p
}

// Printed returns what the process has printed so far.
func (p *Process) Printed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

func (p *Process) lastLines(n int) string {
	lines := strings.SplitAfter(p.Printed(), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill ends the process with SIGKILL, as a crash would: no shutdown, leases and
// connections left behind. It returns once the process has exited.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGINT and fails the test unless the process exits cleanly within 30
// seconds.
func (p *Process) Stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("hookd serve exited with %v", p.err)
		}
	case <-time.After(startWait):
		t.Fatalf("hookd serve did not exit within %s of SIGINT", startWait)
	}
}

// Environ returns the test's environment without its HOOKD_* variables, plus env:
// the environment for a hookd process that only the test configures.
func Environ(env ...string) []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HOOKD_") {
			out = append(out, e)
		}
	}
	return append(out, env...)
}

// Pid returns the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// PeakRSSMB returns the process's peak resident set (VmHWM) in MiB, or -1 where
// /proc does not tell.
func (p *Process) PeakRSSMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return -1
}

// PostgresDSN returns a DSN for a fresh schema of the PostgreSQL database named by
// HOOKD_TEST_POSTGRES (dropped when the test ends), or skips the test without it.
func PostgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("HOOKD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("HOOKD_TEST_POSTGRES not set: skipping PostgreSQL tests")
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	schema := fmt.Sprintf("hookdtest_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return dsn + sep + "search_path=" + schema
}

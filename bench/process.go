package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProcess is a hookd server the bench started as a child process, so that its
// memory is measured alone.
type serverProcess struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done

	mu   sync.Mutex
	tail []string // the last lines it printed, for error messages
	log  io.Writer
}

// listenRE finds the API's base URL in the line `hookd serve` prints once listening.
var listenRE = regexp.MustCompile(`(?i)listening.*?(https?://[^\s"',]+)`)

// startServer runs argv with extra environment, and waits until it prints the
// address it listens on.
func startServer(ctx context.Context, argv []string, env []string, log io.Writer, wait time.Duration) (*serverProcess, error) {
	if len(argv) == 0 {
		return nil, errors.New("no server command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	p := &serverProcess{cmd: cmd, done: make(chan struct{}), log: log}
	found := make(chan string, 1)
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.remember(line)
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- strings.TrimRight(m[1], "/."):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case u := <-found:
		p.url = u
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("server exited before listening (%v):\n%s", p.err, p.lastLines())
	case <-timer.C:
		p.stop()
		return nil, fmt.Errorf("server printed no \"listening on http://…\" line within %s:\n%s", wait, p.lastLines())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

func (p *serverProcess) remember(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil {
		fmt.Fprintln(p.log, line)
	}
	p.tail = append(p.tail, line)
	if len(p.tail) > 20 {
		p.tail = p.tail[len(p.tail)-20:]
	}
}

func (p *serverProcess) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

func (p *serverProcess) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited, and how.
func (p *serverProcess) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop asks the server to shut down and kills it if it has not within 10 seconds.
func (p *serverProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// procMemMB reads a memory figure in MiB from /proc/<pid>/status: "VmHWM" (peak
// resident set) or "VmRSS" (current). It returns -1 when it cannot.
func procMemMB(pid int, field string) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return -1
		}
		return kb / 1024
	}
	return -1
}

// procCPUSeconds reads the user+system CPU time of pid from /proc/<pid>/stat; -1 when
// it cannot.
func procCPUSeconds(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces; fields after its ')' are fixed.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

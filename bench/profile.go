package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"
)

// freeLoopbackAddr returns a loopback address with a port that was free a moment ago,
// for a server flag that takes an address rather than reporting the one it got.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// profiler fetches profiles from a server's net/http/pprof handlers, and profiles
// the bench process itself (its receiver and API clients) over the same seconds.
type profiler struct {
	base string // e.g. http://127.0.0.1:6060
	dir  string
	done chan error
	self chan error
}

// startCPUProfile starts fetching a CPU profile of secs seconds into dir/cpu.pprof.
func startCPUProfile(ctx context.Context, base, dir string, secs int) *profiler {
	p := &profiler{base: base, dir: dir, done: make(chan error, 1), self: make(chan error, 1)}
	go func() {
		p.done <- p.fetch(ctx, "/debug/pprof/profile?seconds="+strconv.Itoa(secs), "cpu.pprof", time.Duration(secs+30)*time.Second)
	}()
	go func() {
		p.self <- profileSelf(ctx, filepath.Join(dir, "bench-cpu.pprof"), time.Duration(secs)*time.Second)
	}()
	return p
}

// profileSelf writes a CPU profile of this process for d (or until ctx ends) to path.
func profileSelf(ctx context.Context, path string, d time.Duration) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("profile bench process: %w", err)
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	pprof.StopCPUProfile()
	return f.Close()
}

// finish waits for the CPU profile and fetches a heap profile.
func (p *profiler) finish(ctx context.Context) error {
	var cpuErr error
	select {
	case cpuErr = <-p.done:
	case <-ctx.Done():
		cpuErr = ctx.Err()
	}
	heapErr := p.fetch(ctx, "/debug/pprof/heap", "heap.pprof", 30*time.Second)
	var selfErr error
	select {
	case selfErr = <-p.self:
	case <-ctx.Done():
		selfErr = ctx.Err()
	}
	return errors.Join(cpuErr, heapErr, selfErr)
}

func (p *profiler) fetch(ctx context.Context, path, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d", name, resp.StatusCode)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(p.dir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile %s: %w", name, err)
	}
	return f.Close()
}

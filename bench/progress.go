package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// startProgress prints a progress line every cfg.ProgressInterval until the returned
// function is called (which prints a final newline in '\r' mode).
func startProgress(ctx context.Context, cfg Config, ing *ingest, trk *tracker, pid int) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	begin := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(cfg.ProgressInterval)
		defer tick.Stop()
		var lastAcc, lastArr int64
		last := begin
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				acc, arr := trk.accepted.Load(), trk.arrived.Load()
				dt := now.Sub(last).Seconds()
				pending := acc*int64(trk.fanout) - arr
				line := fmt.Sprintf("[%5.0fs] sent %d accepted %d (%.0f/s)  delivered %d (%.0f/s)  pending %d",
					now.Sub(begin).Seconds(), ing.sent.Load(), acc, float64(acc-lastAcc)/dt,
					arr, float64(arr-lastArr)/dt, pending)
				if e := ing.errors.Load(); e > 0 {
					line += fmt.Sprintf("  api-errors %d", e)
				}
				if pid > 0 {
					if rss := procMemMB(pid, "VmRSS"); rss >= 0 {
						line += fmt.Sprintf("  rss %.0f MB", rss)
					}
				}
				if cfg.ProgressCR {
					fmt.Fprintf(cfg.Progress, "\r%s\x1b[K", line)
				} else {
					fmt.Fprintln(cfg.Progress, line)
				}
				lastAcc, lastArr, last = acc, arr, now
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		if cfg.ProgressCR {
			fmt.Fprintln(cfg.Progress)
		}
	}
}

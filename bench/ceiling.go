package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// ceiling is what the bare client achieved.
type ceiling struct {
	perS       float64
	deliveries int64
	invalid    int64
	latency    Latency
	cpuMS      float64 // this process's CPU per request (0: unknown)
}

// runCeiling POSTs signed copies of body to the receiver from conc goroutines over a
// tuned transport: n requests (0: no limit) within at most d. It is the fastest this
// machine can deliver these bodies to this receiver, and what hookd is compared with.
func runCeiling(ctx context.Context, rcv *receiver, profile webhook.Profile, body []byte, conc, n int, d time.Duration) (ceiling, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return ceiling{}, err
	}
	signer, err := webhook.NewSigner(profile, secret)
	if err != nil {
		return ceiling{}, fmt.Errorf("ceiling: %w", err)
	}
	v, err := webhook.NewVerifier(profile, []string{secret})
	if err != nil {
		return ceiling{}, fmt.Errorf("ceiling: %w", err)
	}
	trk := newTracker(1, n, 0)
	invalidBefore := rcv.invalid.Load()
	rcv.setPhase("ceiling", []receiverEndpoint{{verifier: v}}, trk)

	tr := &http.Transport{
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := rcv.endpointURL("ceiling", 0)

	// Connections are opened and warmed up before the clock starts, as they are in
	// a hookd server that has been delivering for a while.
	post := func(ctx context.Context, id string) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "hookd-bench-ceiling")
		now := int64(time.Since(rcv.start))
		trk.accept(id, now, now)
		signer.Sign(req.Header, id, time.Now(), body)
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode/100 == 2, nil
	}
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for k := range 4 {
				_, _ = post(ctx, "msg_warmup"+strconv.Itoa(w)+"_"+strconv.Itoa(k))
			}
		})
	}
	wg.Wait()
	trk = newTracker(1, n, 0)
	rcv.setPhase("ceiling", []receiverEndpoint{{verifier: v}}, trk)

	// Short runs are extended to minCeiling so that a few thousand requests do not
	// make a noisy ceiling.
	const minCeiling = time.Second
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next, ok atomic.Int64
	var firstErr atomic.Pointer[string]
	begin := time.Now()
	cpu0 := procCPUSeconds(os.Getpid())
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if n > 0 && i >= int64(n) && time.Since(begin) >= minCeiling {
					return
				}
				good, err := post(ctx, "msg_ceiling"+strconv.FormatInt(i, 10))
				if err != nil && ctx.Err() == nil {
					s := err.Error()
					firstErr.CompareAndSwap(nil, &s)
				}
				if good {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	cpu1 := procCPUSeconds(os.Getpid())
	if ok.Load() == 0 {
		msg := "no request succeeded"
		if e := firstErr.Load(); e != nil {
			msg = *e
		}
		return ceiling{}, fmt.Errorf("ceiling: %s", msg)
	}
	// Only requests answered 2xx count; latencies are those of arrived ones.
	sm := trk.summarize()
	c := ceiling{
		perS:       float64(ok.Load()) / elapsed.Seconds(),
		deliveries: ok.Load(),
		invalid:    rcv.invalid.Load() - invalidBefore,
		latency:    latencyOf(sm.latencies),
	}
	if cpu0 >= 0 && cpu1 >= 0 {
		c.cpuMS = (cpu1 - cpu0) * 1000 / float64(c.deliveries)
	}
	return c, nil
}

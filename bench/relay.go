package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// The durable relay is the second thing hookd is compared with: the least any sender
// that keeps what it accepted could do on this machine. It is a small HTTP server
// that, for each POST, appends the request (its Idempotency-Key and body) to a file,
// with concurrent appends sharing one fsync (group commit), then forwards the body,
// signed, with a bare client to each of the fan-out endpoints of the same receiver,
// and only then answers 202 with a message ID. It is driven by the same API clients,
// with the same bodies and headers, as the hookd phase. Its rate is hookd's real
// bound: hookd does all of this and more (an API, a database, retries, an attempt
// log), so relay_ratio = deliveries_per_s / relay_ceiling_per_s says how much of
// that bound hookd reaches.

// maxRelayBatch bounds the appends one fsync covers.
const maxRelayBatch = 256

// relayResult is what the relay phase measured.
type relayResult struct {
	perS       float64 // deliveries/s, first request sent to last delivery received
	deliveries int64
	commits    int64 // fsyncs of the relay's log
	invalid    int64
	latency    Latency // the relay's POST round trip
}

// relay is the durable relay's server.
type relay struct {
	ln     net.Listener
	srv    *http.Server
	log    *groupLog
	fanout int
	urls   []string
	signer *webhook.Signer
	client *http.Client
	seq    atomic.Int64
}

// groupLog appends records to a file; concurrent appends are written together and
// made durable by one fsync.
type groupLog struct {
	f       *os.File
	reqs    chan *logAppend
	commits atomic.Int64
	done    chan struct{}
}

type logAppend struct {
	data []byte
	err  chan error
}

func newGroupLog(path string) (*groupLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("relay: log: %w", err)
	}
	g := &groupLog{f: f, reqs: make(chan *logAppend, maxRelayBatch), done: make(chan struct{})}
	go g.run()
	return g, nil
}

// append writes data and returns once it is on disk.
func (g *groupLog) append(data []byte) error {
	a := &logAppend{data: data, err: make(chan error, 1)}
	g.reqs <- a
	return <-a.err
}

func (g *groupLog) run() {
	defer close(g.done)
	batch := make([]*logAppend, 0, maxRelayBatch)
	var buf []byte
	for a := range g.reqs {
		batch = append(batch[:0], a)
	fill:
		for len(batch) < maxRelayBatch {
			select {
			case a, ok := <-g.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, a)
			default:
				break fill
			}
		}
		buf = buf[:0]
		for _, a := range batch {
			buf = append(buf, a.data...)
		}
		_, err := g.f.Write(buf)
		if err == nil {
			err = g.f.Sync()
		}
		g.commits.Add(1)
		for _, a := range batch {
			a.err <- err
		}
	}
}

func (g *groupLog) close() {
	close(g.reqs)
	<-g.done
	_ = g.f.Close()
}

func startRelay(logPath string, urls []string, signer *webhook.Signer, conc int) (*relay, error) {
	lg, err := newGroupLog(logPath)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lg.close()
		return nil, fmt.Errorf("relay: listen: %w", err)
	}
	tr := &http.Transport{
		MaxIdleConns:        conc * 2 * len(urls),
		MaxIdleConnsPerHost: conc * 2 * len(urls),
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	r := &relay{
		ln: ln, log: lg, fanout: len(urls), urls: urls, signer: signer,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *relay) url() string { return "http://" + r.ln.Addr().String() }

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil || req.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	id := "msg_relay" + strconv.FormatInt(r.seq.Add(1), 10)
	key := req.Header.Get("Idempotency-Key")
	// One record: lengths, then ID, key and body.
	rec := make([]byte, 0, 12+len(id)+len(key)+len(body))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(id)))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(key)))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(body)))
	rec = append(append(append(rec, id...), key...), body...)
	if err := r.log.append(rec); err != nil {
		http.Error(w, "log: "+err.Error(), http.StatusInternalServerError)
		return
	}
	ok := true
	if r.fanout == 1 {
		ok = r.forward(req.Context(), r.urls[0], id, body)
	} else {
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, u := range r.urls {
			wg.Go(func() {
				if !r.forward(req.Context(), u, id, body) {
					failed.Store(true)
				}
			})
		}
		wg.Wait()
		ok = !failed.Load()
	}
	if !ok {
		http.Error(w, "forward failed", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"id":"` + id + `"}`))
}

// forward POSTs body, signed as message id, to url and reports a 2xx answer.
func (r *relay) forward(ctx context.Context, url, id string, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hookd-bench-relay")
	r.signer.Sign(req.Header, id, time.Now(), body)
	resp, err := r.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

func (r *relay) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	_ = r.srv.Close()
	r.log.close()
	r.client.CloseIdleConnections()
}

// runRelay measures the durable relay: conc clients (the bench's API clients, with
// keys when keys is true) POST body to it, n requests (0: no limit, for at most d;
// at least a second), and it appends, fsyncs and forwards each to fanout endpoints
// of the receiver. dir holds the relay's log, on the filesystem hookd's database
// would use.
func runRelay(ctx context.Context, rcv *receiver, profile webhook.Profile, body []byte, dir string, conc, fanout, n int, d time.Duration, keys bool) (relayResult, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return relayResult{}, err
	}
	signer, err := webhook.NewSigner(profile, secret)
	if err != nil {
		return relayResult{}, fmt.Errorf("relay: %w", err)
	}
	v, err := webhook.NewVerifier(profile, []string{secret})
	if err != nil {
		return relayResult{}, fmt.Errorf("relay: %w", err)
	}
	eps := make([]receiverEndpoint, fanout)
	urls := make([]string, fanout)
	for k := range fanout {
		eps[k] = receiverEndpoint{verifier: v, slot: k}
		urls[k] = rcv.endpointURL("relay", k)
	}
	f, err := os.CreateTemp(dir, "hookd-bench-relay-*.log")
	if err != nil {
		return relayResult{}, fmt.Errorf("relay: log: %w", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	rl, err := startRelay(path, urls, signer, conc)
	if err != nil {
		return relayResult{}, err
	}
	defer rl.close()

	api := newAPIClient(rl.url(), "relay", max(conc, 64))
	defer api.httpc.CloseIdleConnections()
	invalidBefore := rcv.invalid.Load()
	run := func(ctx context.Context, trk *tracker, n int, d time.Duration) *ingest {
		rcv.setPhase("relay", eps, trk)
		ing := &ingest{apis: []*apiClient{api}, paths: []string{"/msg"}, bodies: [][]byte{body}, trk: trk, start: rcv.start}
		if keys {
			ing.keyPrefix = "relay-" + randomHex(8) + "-"
		}
		ing.closedLoop(ctx, conc, n, d)
		return ing
	}
	// Warm the connections up, as the ceiling does.
	run(ctx, newTracker(fanout, conc*4, 0), conc*4, 0)

	ctx, cancel := context.WithTimeout(ctx, max(d, time.Second))
	defer cancel()
	trk := newTracker(fanout, n, 0)
	begin := time.Since(rcv.start)
	commits0 := rl.log.commits.Load()
	var ing *ingest
	if n > 0 {
		// Short runs are extended to a second, as the ceiling's are.
		ing = run(ctx, trk, n, 0)
		if rest := time.Second - (time.Since(rcv.start) - begin); rest > 0 && ctx.Err() == nil {
			more := run(ctx, trk, 0, rest)
			ing.lat = append(ing.lat, more.lat...)
		}
	} else {
		ing = run(ctx, trk, 0, d)
	}
	sm := trk.summarize()
	if sm.arrived == 0 {
		msg := "no request was relayed"
		if e := ing.firstErr.Load(); e != nil {
			msg = *e
		}
		return relayResult{}, fmt.Errorf("relay: %s", msg)
	}
	res := relayResult{
		deliveries: sm.arrived,
		commits:    rl.log.commits.Load() - commits0,
		invalid:    rcv.invalid.Load() - invalidBefore,
		latency:    latencyOf(ing.latencies()),
	}
	if span := (time.Duration(trk.lastArrive.Load()) - begin).Seconds(); span > 0 {
		res.perS = float64(sm.arrived) / span
	}
	return res, nil
}

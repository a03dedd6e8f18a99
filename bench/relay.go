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
	"path/filepath"
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
	commits    int64 // fsyncs of the relay's log (commits of the floor's database)
	invalid    int64
	latency    Latency // the relay's POST round trip
	cpuMS      float64 // this process's CPU per delivery (0: unknown)
}

// relayKeeper is where the relay keeps what it accepts: its file (groupLog) or, for
// the floor, a SQLite database (floor.go) or PostgreSQL schema (pgfloor.go).
type relayKeeper interface {
	// keep makes message seq durable before it is forwarded; false: its key was
	// seen before (nothing is forwarded).
	keep(seq int64, key string, body []byte) (bool, error)
	// attempted records that message seq was forwarded to fan-out endpoint slot,
	// which answered code after took. It does not wait for the record to be durable.
	attempted(seq int64, slot, code int, took time.Duration)
	// settle waits until every record is durable and returns the moment the last
	// commit ended (0: none since the last settle) and the first error.
	settle() (time.Time, error)
	commitCount() int64
	close()
}

// relay is the durable relay's server.
type relay struct {
	ln     net.Listener
	srv    *http.Server
	keeper relayKeeper
	fanout int
	urls   []string
	signer *webhook.Signer
	client *http.Client
	seq    atomic.Int64

	// With workers, forwards are queued on jobs for that many goroutines and a
	// message is answered once kept, as hookd answers once a message is stored;
	// inflight counts the queued and running ones.
	jobs     chan forwardJob
	workers  sync.WaitGroup
	inflight sync.WaitGroup
}

// forwardJob is one forward of message seq to fan-out endpoint slot.
type forwardJob struct {
	seq     int64
	slot    int
	url, id string
	body    []byte
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
		batch = takeBatch(g.reqs, append(batch[:0], a))
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

// takeBatch appends to batch what ch holds now, up to maxRelayBatch in all.
func takeBatch[T any](ch <-chan T, batch []T) []T {
	for len(batch) < maxRelayBatch {
		select {
		case v, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}

func (g *groupLog) close() {
	close(g.reqs)
	<-g.done
	_ = g.f.Close()
}

// keep appends one record: lengths, then the message's ID, key and body.
func (g *groupLog) keep(seq int64, key string, body []byte) (bool, error) {
	id := relayMessageID(seq)
	rec := make([]byte, 0, 12+len(id)+len(key)+len(body))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(id)))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(key)))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(body)))
	rec = append(append(append(rec, id...), key...), body...)
	return true, g.append(rec)
}

// attempted keeps nothing: the relay's log holds only what it accepted.
func (g *groupLog) attempted(int64, int, int, time.Duration) {}

func (g *groupLog) settle() (time.Time, error) { return time.Time{}, nil }

func (g *groupLog) commitCount() int64 { return g.commits.Load() }

func relayMessageID(seq int64) string { return "msg_relay" + strconv.FormatInt(seq, 10) }

// startRelay starts a relay that keeps what it accepts in keeper and forwards it to
// urls. workers 0 forwards each message before answering it (the durable relay);
// otherwise that many goroutines forward what was kept and answered (the floor).
func startRelay(keeper relayKeeper, urls []string, signer *webhook.Signer, conc, workers int) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		keeper.close()
		return nil, fmt.Errorf("relay: listen: %w", err)
	}
	tr := &http.Transport{
		MaxIdleConns:        conc * 2 * len(urls),
		MaxIdleConnsPerHost: conc * 2 * len(urls),
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	r := &relay{
		ln: ln, keeper: keeper, fanout: len(urls), urls: urls, signer: signer,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
	if workers > 0 {
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = workers, workers
		r.jobs = make(chan forwardJob, 4*workers)
		for range workers {
			r.workers.Go(func() {
				for j := range r.jobs {
					r.forward(context.Background(), j.seq, j.slot, j.url, j.id, j.body)
					r.inflight.Done()
				}
			})
		}
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
	seq := r.seq.Add(1)
	id := relayMessageID(seq)
	fresh, err := r.keeper.keep(seq, req.Header.Get("Idempotency-Key"), body)
	if err != nil {
		http.Error(w, "log: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !fresh {
		http.Error(w, "repeated Idempotency-Key", http.StatusConflict)
		return
	}
	ok := true
	switch {
	case r.jobs != nil:
		r.inflight.Add(len(r.urls))
		for k, u := range r.urls {
			r.jobs <- forwardJob{seq: seq, slot: k, url: u, id: id, body: body}
		}
	case r.fanout == 1:
		ok = r.forward(req.Context(), seq, 0, r.urls[0], id, body)
	default:
		var wg sync.WaitGroup
		var failed atomic.Bool
		for k, u := range r.urls {
			wg.Go(func() {
				if !r.forward(req.Context(), seq, k, u, id, body) {
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

// forward POSTs body, signed as message id, to url (fan-out endpoint slot of
// message seq), has the keeper record the attempt and reports a 2xx answer.
func (r *relay) forward(ctx context.Context, seq int64, slot int, url, id string, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hookd-bench-relay")
	t0 := time.Now()
	r.signer.Sign(req.Header, id, t0, body)
	resp, err := r.client.Do(req)
	if err != nil {
		r.keeper.attempted(seq, slot, 0, time.Since(t0))
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.keeper.attempted(seq, slot, resp.StatusCode, time.Since(t0))
	return resp.StatusCode/100 == 2
}

// drain waits until every queued forward has been made.
func (r *relay) drain() { r.inflight.Wait() }

func (r *relay) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	_ = r.srv.Close()
	if r.jobs != nil {
		close(r.jobs)
		r.workers.Wait()
	}
	r.keeper.close()
	r.client.CloseIdleConnections()
}

// runRelay measures the durable relay (phase "relay") or the floor (phase "floor",
// floor.go): conc clients (the bench's API clients, with keys when keys is true)
// POST body to it, n requests (0: no limit, for at most d; at least a second), and
// it keeps each (the relay appends it to its log, the floor inserts it into SQLite,
// or with floorDSN into PostgreSQL: pgfloor.go), forwards it to fanout endpoints of
// the receiver and answers. dir holds the log or SQLite database, on the filesystem
// hookd's database would use.
func runRelay(ctx context.Context, rcv *receiver, profile webhook.Profile, body []byte, dir, floorDSN, phase string, conc, fanout, n int, d time.Duration, keys bool) (relayResult, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return relayResult{}, err
	}
	signer, err := webhook.NewSigner(profile, secret)
	if err != nil {
		return relayResult{}, fmt.Errorf("%s: %w", phase, err)
	}
	v, err := webhook.NewVerifier(profile, []string{secret})
	if err != nil {
		return relayResult{}, fmt.Errorf("%s: %w", phase, err)
	}
	eps := make([]receiverEndpoint, fanout)
	urls := make([]string, fanout)
	for k := range fanout {
		eps[k] = receiverEndpoint{verifier: v, slot: k}
		urls[k] = rcv.endpointURL(phase, k)
	}
	tmp, err := os.MkdirTemp(dir, "hookd-bench-"+phase+"-")
	if err != nil {
		return relayResult{}, fmt.Errorf("%s: %w", phase, err)
	}
	defer os.RemoveAll(tmp)
	var keeper relayKeeper
	workers := 0
	switch {
	case phase != "floor":
		keeper, err = newGroupLog(filepath.Join(tmp, "relay.log"))
	case floorDSN != "":
		keeper, err = openPGFloorStore(ctx, floorDSN)
	default:
		keeper, err = openFloorStore(filepath.Join(tmp, "floor.db"))
	}
	if phase == "floor" {
		// As many forwards in flight as the ceiling has: fewer connections cost
		// less CPU per request than one per client and fan-out endpoint.
		workers = conc
	}
	if err != nil {
		return relayResult{}, err
	}
	rl, err := startRelay(keeper, urls, signer, conc, workers)
	if err != nil {
		return relayResult{}, err
	}
	defer rl.close()

	api := newAPIClient(rl.url(), phase, max(conc, 64))
	defer api.httpc.CloseIdleConnections()
	invalidBefore := rcv.invalid.Load()
	run := func(ctx context.Context, trk *tracker, n int, d time.Duration) *ingest {
		rcv.setPhase(phase, eps, trk)
		ing := &ingest{apis: []*apiClient{api}, paths: []string{"/msg"}, bodies: [][]byte{body}, trk: trk, start: rcv.start}
		if keys {
			ing.keyPrefix = phase + "-" + randomHex(8) + "-"
		}
		ing.closedLoop(ctx, conc, n, d)
		return ing
	}
	// Warm the connections up, as the ceiling does.
	run(ctx, newTracker(fanout, conc*4, 0), conc*4, 0)
	rl.drain()
	if _, err := keeper.settle(); err != nil {
		return relayResult{}, fmt.Errorf("%s: %w", phase, err)
	}

	ctx, cancel := context.WithTimeout(ctx, max(d, time.Second))
	defer cancel()
	trk := newTracker(fanout, n, 0)
	begin := time.Since(rcv.start)
	commits0 := keeper.commitCount()
	cpu0 := procCPUSeconds(os.Getpid())
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
	// The run ends when its last delivery arrived and its last record is durable.
	rl.drain()
	lastCommit, err := keeper.settle()
	if err != nil {
		return relayResult{}, fmt.Errorf("%s: %w", phase, err)
	}
	cpu1 := procCPUSeconds(os.Getpid())
	end := time.Duration(trk.lastArrive.Load())
	if !lastCommit.IsZero() {
		end = max(end, lastCommit.Sub(rcv.start))
	}
	sm := trk.summarize()
	if sm.arrived == 0 {
		msg := "no request was relayed"
		if e := ing.firstErr.Load(); e != nil {
			msg = *e
		}
		return relayResult{}, fmt.Errorf("%s: %s", phase, msg)
	}
	res := relayResult{
		deliveries: sm.arrived,
		commits:    keeper.commitCount() - commits0,
		invalid:    rcv.invalid.Load() - invalidBefore,
		latency:    latencyOf(ing.latencies()),
	}
	if span := (end - begin).Seconds(); span > 0 {
		res.perS = float64(sm.arrived) / span
	}
	if cpu0 >= 0 && cpu1 >= 0 {
		res.cpuMS = (cpu1 - cpu0) * 1000 / float64(sm.arrived)
	}
	return res, nil
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/webhook"
)

// receiver is the loopback HTTP server every delivery goes to, in both the ceiling
// and the hookd phase. It verifies each request's signature with the secret of the
// endpoint named by the request path (/<phase>/<index>), records the arrival in that
// phase's tracker and answers 204. It is kept cheap on purpose: it is the
// ceiling's receiver too.
type receiver struct {
	ln    net.Listener
	srv   *http.Server
	start time.Time // the run's clock origin

	// phases maps a phase's name to its endpoints and tracker: path /<name>/<i> is
	// endpoint i of phase name. Each phase has paths of its own, so a request of an
	// ended phase that arrives late (its client gave up when the phase's time ran
	// out, but the request was already sent) is checked against its own phase's
	// secret and counted there, never against the next phase's.
	phases atomic.Pointer[map[string]*receiverPhase]

	failSeed maphash.Seed

	holdMu sync.Mutex
	held   chan struct{} // non-nil while deliveries are held back (backlog mode)

	invalid  atomic.Int64 // requests whose signature did not verify
	requests atomic.Int64 // every request, including rejected ones
	bufs     sync.Pool
}

// receiverPhase is what the receiver knows of one phase.
type receiverPhase struct {
	endpoints []receiverEndpoint
	tracker   *tracker
}

// receiverEndpoint is one endpoint as the receiver sees it.
type receiverEndpoint struct {
	verifier *webhook.Verifier
	slot     int // which of the message's fan-out endpoints this is
}

func newReceiver(start time.Time) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: listen: %w", err)
	}
	r := &receiver{ln: ln, start: start, failSeed: maphash.MakeSeed()}
	r.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	r.phases.Store(&map[string]*receiverPhase{})
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// endpointURL returns the URL of endpoint index i of the named phase.
func (r *receiver) endpointURL(phase string, i int) string {
	return "http://" + r.ln.Addr().String() + "/" + phase + "/" + strconv.Itoa(i)
}

// setPhase gives the named phase its endpoints and tracker (a phase may be set
// again, as the ceiling does after its warm-up). It is called by one goroutine at
// a time, before the phase's requests are sent.
func (r *receiver) setPhase(phase string, eps []receiverEndpoint, t *tracker) {
	old := *r.phases.Load()
	next := make(map[string]*receiverPhase, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[phase] = &receiverPhase{endpoints: eps, tracker: t}
	r.phases.Store(&next)
}

// hold makes the receiver keep every request waiting, without answering, until
// release; the sender sees a receiver that has stopped responding.
func (r *receiver) hold() {
	r.holdMu.Lock()
	if r.held == nil {
		r.held = make(chan struct{})
	}
	r.holdMu.Unlock()
}

// release answers the held requests and stops holding new ones.
func (r *receiver) release() {
	r.holdMu.Lock()
	if r.held != nil {
		close(r.held)
		r.held = nil
	}
	r.holdMu.Unlock()
}

func (r *receiver) waitHeld(ctx context.Context) bool {
	r.holdMu.Lock()
	held := r.held
	r.holdMu.Unlock()
	if held == nil {
		return true
	}
	select {
	case <-held:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	name, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	idx, err := strconv.Atoi(rest)
	ph := (*r.phases.Load())[name]
	if ph == nil || err != nil || idx < 0 || idx >= len(ph.endpoints) || req.Method != http.MethodPost {
		http.Error(w, "unknown endpoint", http.StatusNotFound)
		return
	}
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	body, err := readBody(req.Body, (*bp)[:0], req.ContentLength)
	*bp = body
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	// The signature is checked when the request arrives, as a receiver would: one
	// held back longer than the verifier's timestamp tolerance is still valid.
	ep := ph.endpoints[idx]
	msg, err := ep.verifier.VerifyMessage(req.Header, body)
	if err != nil {
		r.invalid.Add(1)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	if !r.waitHeld(req.Context()) {
		return // the sender gave up; nothing was received
	}
	at := int64(time.Since(r.start))
	t := ph.tracker
	if t.arrive(msg.ID, ep.slot, at, r.shouldFail(t.failRatio, msg.ID, ep.slot)) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// shouldFail decides, by a hash of the message and endpoint, whether this pair's
// first arrival is answered with 503.
func (r *receiver) shouldFail(ratio float64, id string, slot int) bool {
	if ratio <= 0 {
		return false
	}
	var h maphash.Hash
	h.SetSeed(r.failSeed)
	h.WriteString(id)
	h.WriteByte(byte(slot))
	return float64(h.Sum64()>>11)/(1<<53) < ratio
}

func readBody(rd io.Reader, buf []byte, n int64) ([]byte, error) {
	if n > 0 && int64(cap(buf)) < n {
		buf = make([]byte, 0, n)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (r *receiver) close() {
	r.release()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	_ = r.srv.Close()
}

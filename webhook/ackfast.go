package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// AckFunc is the slow part of handling a webhook, run after the sender has had its
// answer. ctx carries the Message (see MessageFromContext) and is cancelled when
// AckFast.Close gives up waiting.
type AckFunc func(ctx context.Context, m Message) error

// AckFastConfig configures AckFast. Zero fields take the documented defaults.
type AckFastConfig struct {
	// Workers is the number of goroutines running AckFuncs; default 4.
	Workers int
	// QueueSize is how many acknowledged messages may wait for a worker; default 256.
	QueueSize int
	// Status is the success status; default 202 Accepted.
	Status int
	// RetryAfter is sent with the 503 answered when the queue is full; default 5s.
	RetryAfter time.Duration
	// MaxBodyBytes limits the body when AckFast is used without Middleware in front;
	// default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ErrorFunc receives AckFunc errors and panics (as errors); nil drops them, since
	// the sender has already been answered.
	ErrorFunc func(m Message, err error)
}

// AckFast is an http.Handler that answers 2xx at once and runs an AckFunc on a
// bounded pool of workers, for receivers whose work is slower than the sender's
// timeout. Put it behind Middleware, which verifies first and hands over the
// Message; used alone it reads the body itself (without verifying anything).
//
// When the queue is full, or after Close, it answers 503 Service Unavailable with
// Retry-After and does not run the work: the sender keeps the message and retries
// it later (behind Middleware the message ID is released for that retry).
//
// Acknowledging first trades delivery guarantees for latency: work still queued in
// memory when the process dies is lost, and the sender will not retry it. When that
// matters, persist the message in the handler before answering instead.
type AckFast struct {
	fn     AckFunc
	cfg    AckFastConfig
	queue  chan Message
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

// NewAckFast starts the workers of an AckFast running fn. Call Close to stop them.
func NewAckFast(cfg AckFastConfig, fn AckFunc) *AckFast {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.Status == 0 {
		cfg.Status = http.StatusAccepted
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &AckFast{fn: fn, cfg: cfg, queue: make(chan Message, cfg.QueueSize), ctx: ctx, cancel: cancel}
	a.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go a.work()
	}
	return a
}

// ServeHTTP queues the message and answers cfg.Status, or 503 when full or closed.
func (a *AckFast) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, ok := MessageFromContext(r.Context())
	if !ok {
		body, err := readBody(w, r, a.cfg.MaxBodyBytes)
		if err != nil {
			WriteError(w, err)
			return
		}
		m = Message{Body: body}
	}
	if !a.enqueue(m) {
		secs := int((a.cfg.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		WriteError(w, ErrOverloaded)
		return
	}
	w.WriteHeader(a.cfg.Status)
}

func (a *AckFast) enqueue(m Message) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return false
	}
	select {
	case a.queue <- m:
		return true
	default:
		return false
	}
}

// Close stops accepting messages and waits for the queued ones to finish. If ctx ends
// first, it cancels the context the running AckFuncs got and returns ctx.Err().
func (a *AckFast) Close(ctx context.Context) error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		a.cancel()
		return nil
	case <-ctx.Done():
		a.cancel()
		return ctx.Err()
	}
}

func (a *AckFast) work() {
	defer a.wg.Done()
	for m := range a.queue {
		a.run(m)
	}
}

func (a *AckFast) run(m Message) {
	defer func() {
		if p := recover(); p != nil && a.cfg.ErrorFunc != nil {
			a.cfg.ErrorFunc(m, fmt.Errorf("webhook: ack-fast handler panicked: %v", p))
		}
	}()
	if err := a.fn(ContextWithMessage(a.ctx, m), m); err != nil && a.cfg.ErrorFunc != nil {
		a.cfg.ErrorFunc(m, err)
	}
}

// Package relay connects hookd's relay endpoints with the `hookd listen` processes
// that receive their deliveries over the API: the dispatcher hands each delivery to
// Forward, a listener long-polling its endpoint picks it up with Poll, and its answer
// comes back through Answer to the waiting dispatcher, which records it as the
// attempt. The hub lives in one process: a listener receives the deliveries that the
// node it polls sends.
package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// queueSize is how many requests may wait for a listener of one endpoint.
const queueSize = 1024

// connectedGrace is how long after its last poll ended a listener still counts as
// connected: between two polls it is busy forwarding, not gone.
const connectedGrace = 10 * time.Second

// Hub implements hookd.Relay in memory.
type Hub struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu  sync.Mutex
	eps map[string]*endpointQueue // by appID/endpointID
}

var _ hookd.Relay = (*Hub)(nil)

// endpointQueue holds one endpoint's requests on their way to its listener.
type endpointQueue struct {
	ch       chan *pending
	waiting  map[string]*pending // by request ID, until answered or abandoned
	pollers  int
	lastPoll time.Time
}

type pending struct {
	req  *hookd.RelayRequest
	done chan *hookd.RelayResponse // buffered: one answer
}

// New returns an empty hub.
func New() *Hub { return &Hub{eps: map[string]*endpointQueue{}} }

func (h *Hub) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// queue returns the endpoint's queue, made if missing; h.mu must be held.
func (h *Hub) queue(appID, endpointID string) *endpointQueue {
	k := appID + "/" + endpointID
	q := h.eps[k]
	if q == nil {
		q = &endpointQueue{ch: make(chan *pending, queueSize), waiting: map[string]*pending{}}
		h.eps[k] = q
	}
	return q
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "rly_" + hex.EncodeToString(b[:])
}

// Forward implements hookd.Relay.
func (h *Hub) Forward(ctx context.Context, req *hookd.RelayRequest) (*hookd.RelayResponse, error) {
	h.mu.Lock()
	q := h.queue(req.AppID, req.EndpointID)
	if q.pollers == 0 && h.now().Sub(q.lastPoll) > connectedGrace {
		h.mu.Unlock()
		return nil, fmt.Errorf("relay: no hookd listen is connected to endpoint %s", req.EndpointID)
	}
	req.ID = newRequestID()
	p := &pending{req: req, done: make(chan *hookd.RelayResponse, 1)}
	select {
	case q.ch <- p:
	default:
		h.mu.Unlock()
		return nil, fmt.Errorf("relay: %d requests already wait for the listener of endpoint %s", queueSize, req.EndpointID)
	}
	q.waiting[req.ID] = p
	h.mu.Unlock()

	defer func() {
		h.mu.Lock()
		delete(q.waiting, req.ID)
		h.mu.Unlock()
	}()
	select {
	case resp := <-p.done:
		return resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("relay: no answer from hookd listen: %w", ctx.Err())
	}
}

// Poll implements hookd.Relay.
func (h *Hub) Poll(ctx context.Context, appID, endpointID string, max int) []*hookd.RelayRequest {
	h.mu.Lock()
	q := h.queue(appID, endpointID)
	q.pollers++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		q.pollers--
		q.lastPoll = h.now()
		h.mu.Unlock()
	}()
	var out []*hookd.RelayRequest
	take := func(p *pending) {
		h.mu.Lock()
		_, live := q.waiting[p.req.ID]
		h.mu.Unlock()
		if live { // a request whose sender gave up is dropped
			out = append(out, p.req)
		}
	}
	for len(out) == 0 {
		select {
		case p := <-q.ch:
			take(p)
		case <-ctx.Done():
			return nil
		}
	}
	for len(out) < max {
		select {
		case p := <-q.ch:
			take(p)
		default:
			return out
		}
	}
	return out
}

// Answer implements hookd.Relay.
func (h *Hub) Answer(appID, endpointID, requestID string, resp *hookd.RelayResponse) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.eps[appID+"/"+endpointID]
	if q == nil {
		return hookd.Errorf(hookd.ENOTFOUND, "no relay request %s is waiting for an answer", requestID)
	}
	p, ok := q.waiting[requestID]
	if !ok {
		return hookd.Errorf(hookd.ENOTFOUND, "no relay request %s is waiting for an answer (it may have timed out)", requestID)
	}
	delete(q.waiting, requestID)
	p.done <- resp
	return nil
}

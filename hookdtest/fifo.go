package hookdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// FIFOReceiver is a receiver for a FIFO endpoint that fails at random and checks the
// order in which messages arrive. Each message's payload carries its ordering key and
// its number within the key, {"k": key, "n": n}, numbered 0, 1, 2, … in the order the
// sender had them accepted (each one sent only after the one before was accepted).
//
// What it checks, per key: the first request for message n (whatever its answer)
// arrives only after the receiver answered 2xx to message n-1, and after no request
// for any later message. Repeated requests for a message are allowed (at-least-once
// delivery: a retry after a failure, or a resend after a node died between the
// receiver's 2xx and recording it) and counted; they do not count as a first receipt.
type FIFOReceiver struct {
	URL string
	// FailFunc, if set before the first request, decides which messages fail
	// instead of chance.
	FailFunc func(key string, n int) bool

	mu         sync.Mutex
	rnd        *rand.Rand
	failRate   float64
	first      map[string]int // key → highest number received so far
	acked      map[string]map[int]bool
	want       int
	ackedN     int
	requests   int
	failed     int
	repeats    int
	dups       int
	violations []string
	done       chan struct{}
}

// NewFIFOReceiver starts a receiver that answers 500 to a request with probability
// failRate (seeded, so a run can be repeated) and 204 otherwise, and that is done
// once it has answered 2xx to want distinct messages.
func NewFIFOReceiver(t *testing.T, want int, failRate float64, seed uint64) *FIFOReceiver {
	r := &FIFOReceiver{
		rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), failRate: failRate,
		first: map[string]int{}, acked: map[string]map[int]bool{}, want: want, done: make(chan struct{}),
	}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *FIFOReceiver) serve(w http.ResponseWriter, req *http.Request) {
	var body struct {
		K string
		N *int
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil || body.N == nil || req.Header.Get("webhook-id") == "" {
		http.Error(w, "bad webhook", http.StatusBadRequest)
		return
	}
	key, n := body.K, *body.N
	r.mu.Lock()
	r.requests++
	acked := r.acked[key]
	if acked == nil {
		acked = map[int]bool{}
		r.acked[key] = acked
	}
	last, seen := r.first[key]
	if !seen {
		last = -1
	}
	switch {
	case n <= last:
		r.repeats++
		if acked[n] {
			r.dups++
		}
	case n != last+1:
		r.violations = append(r.violations, fmt.Sprintf("key %q: message %d arrived first after message %d", key, n, last))
		r.first[key] = n
	case n > 0 && !acked[n-1]:
		r.violations = append(r.violations, fmt.Sprintf("key %q: message %d arrived before message %d was answered 2xx", key, n, n-1))
		r.first[key] = n
	default:
		r.first[key] = n
	}
	fail := r.rnd.Float64() < r.failRate
	if r.FailFunc != nil {
		fail = r.FailFunc(key, n)
	}
	if fail {
		r.failed++
	} else if !acked[n] {
		acked[n] = true
		r.ackedN++
		if r.ackedN == r.want {
			close(r.done)
		}
	}
	r.mu.Unlock()
	if fail {
		http.Error(w, "random failure", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Done is closed once every wanted message was answered 2xx.
func (r *FIFOReceiver) Done() <-chan struct{} { return r.done }

// FIFOStats is what a FIFOReceiver saw.
type FIFOStats struct {
	// Repeats counts requests for a message received before; Duplicates those of
	// them for a message already answered 2xx.
	Requests, Failed, Repeats, Duplicates, Acked int
	Violations                                   []string
}

// Stats returns what the receiver saw so far.
func (r *FIFOReceiver) Stats() FIFOStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return FIFOStats{Requests: r.requests, Failed: r.failed, Repeats: r.repeats, Duplicates: r.dups, Acked: r.ackedN,
		Violations: append([]string(nil), r.violations...)}
}

// Missing names, per key, the messages of 0…perKey-1 not yet answered 2xx (at most
// a few of each), for a failure message.
func (r *FIFOReceiver) Missing(keys []string, perKey int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, k := range keys {
		var miss []string
		for n := 0; n < perKey && len(miss) < 3; n++ {
			if !r.acked[k][n] {
				miss = append(miss, fmt.Sprint(n))
			}
		}
		if len(miss) > 0 {
			out = append(out, fmt.Sprintf("%q: %s…", k, strings.Join(miss, ",")))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// SendOrdered sends perKey messages for each key, the keys concurrently and each
// key's messages one after another: send(key, n) must return only once message n of
// key is accepted.
func SendOrdered(ctx context.Context, keys []string, perKey int, send func(ctx context.Context, key string, n int) error) error {
	errc := make(chan error, len(keys))
	for _, k := range keys {
		go func() {
			for n := range perKey {
				if err := send(ctx, k, n); err != nil {
					errc <- fmt.Errorf("key %q message %d: %w", k, n, err)
					return
				}
			}
			errc <- nil
		}()
	}
	var errs []error
	for range keys {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

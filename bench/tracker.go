package bench

import (
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// trackerShards spreads the tracker's records over this many independently locked
// maps, so the receiver's handlers and the sending workers rarely wait for each other.
const trackerShards = 256

// Arrival states of one (message, endpoint) pair, stored in record.arrived.
const (
	notArrived   int64 = 0  // nothing yet
	failedOnce   int64 = -1 // the receiver answered 503 to the first arrival
	arrivedFirst int64 = 1  // arrival times are stored +1 so that 0 can mean "not yet"
)

// tracker records, for every message, when the API accepted it and when each of its
// endpoints received it. Times are nanoseconds since the run's start, taken from one
// monotonic clock, so latency = arrival - accept needs no clock agreement.
type tracker struct {
	fanout    int
	failRatio float64 // share of first arrivals the receiver answers with 503
	seed      maphash.Seed
	shards    [trackerShards]trackerShard

	accepted   atomic.Int64 // messages accepted by the API
	arrived    atomic.Int64 // distinct (message, endpoint) pairs received
	duplicates atomic.Int64 // second successful receipts of one pair
	failed     atomic.Int64 // first arrivals answered with 503 on purpose
	lastArrive atomic.Int64 // latest arrival time (ns since start)
}

type trackerShard struct {
	mu   sync.Mutex
	recs map[string]*record
	_    [40]byte // keep shards on separate cache lines
}

// record is one message: when it was sent and accepted, and one arrival slot per
// endpoint.
type record struct {
	sent    int64 // ns since start, when the API request began
	accept  int64 // ns since start + 1; 0 while the API has not answered yet
	arrived []int64
}

func newTracker(fanout, expected int, failRatio float64) *tracker {
	t := &tracker{fanout: fanout, failRatio: failRatio, seed: maphash.MakeSeed()}
	per := expected/trackerShards + 1
	for i := range t.shards {
		t.shards[i].recs = make(map[string]*record, per)
	}
	return t
}

func (t *tracker) shard(id string) *trackerShard {
	return &t.shards[maphash.String(t.seed, id)%trackerShards]
}

// get returns id's record, creating it; the caller holds the shard's lock.
func (t *tracker) get(s *trackerShard, id string) *record {
	r := s.recs[id]
	if r == nil {
		r = &record{arrived: make([]int64, t.fanout)}
		s.recs[id] = r
	}
	return r
}

// accept records that the API accepted message id at time at, for a request sent at
// sent. A delivery may arrive before the API's answer does; its record then already
// exists.
func (t *tracker) accept(id string, sent, at int64) {
	s := t.shard(id)
	s.mu.Lock()
	r := t.get(s, id)
	r.sent, r.accept = sent, at+1
	s.mu.Unlock()
	t.accepted.Add(1)
}

// arrive records a correctly signed receipt of message id at endpoint slot and
// reports whether the receiver should answer with a failure instead (first arrivals
// for which fail is true).
func (t *tracker) arrive(id string, slot int, at int64, fail bool) (reject bool) {
	s := t.shard(id)
	s.mu.Lock()
	r := t.get(s, id)
	switch prev := r.arrived[slot]; {
	case prev == notArrived && fail:
		r.arrived[slot] = failedOnce
		s.mu.Unlock()
		t.failed.Add(1)
		return true
	case prev <= notArrived:
		r.arrived[slot] = at + arrivedFirst
		s.mu.Unlock()
		t.arrived.Add(1)
		for {
			last := t.lastArrive.Load()
			if at <= last || t.lastArrive.CompareAndSwap(last, at) {
				break
			}
		}
		return false
	default:
		s.mu.Unlock()
		t.duplicates.Add(1)
		return false
	}
}

// summary is what the tracker knows at the end of a phase.
type summary struct {
	accepted   int64
	arrived    int64
	lost       int64           // accepted pairs that never arrived
	unexpected int64           // pairs that arrived for messages the API never accepted
	latencies  []time.Duration // accept → arrival
	endToEnd   []time.Duration // request sent → arrival
}

// summarize walks every record. Call it once the phase is over.
func (t *tracker) summarize() summary {
	var sm summary
	sm.latencies = make([]time.Duration, 0, t.arrived.Load())
	sm.endToEnd = make([]time.Duration, 0, t.arrived.Load())
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, r := range s.recs {
			if r.accept == 0 {
				for _, a := range r.arrived {
					if a > notArrived {
						sm.unexpected++
					}
				}
				continue
			}
			sm.accepted++
			for _, a := range r.arrived {
				if a <= notArrived {
					sm.lost++
					continue
				}
				sm.arrived++
				// A delivery can beat the API's own answer to the client; count it as 0.
				sm.latencies = append(sm.latencies, time.Duration(max(0, a-r.accept)))
				sm.endToEnd = append(sm.endToEnd, time.Duration(max(0, a-arrivedFirst-r.sent)))
			}
		}
		s.mu.Unlock()
	}
	return sm
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// latencyOf sorts ds and returns its percentiles (nearest rank).
func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.999999) - 1
		i = min(max(i, 0), len(ds)-1)
		return ms(ds[i])
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

package delivery

import (
	"fmt"

	"github.com/hookd/hookd"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's Prometheus metrics. They exist whether or not a
// Registerer was given, so the code never checks.
type metrics struct {
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
	// started counts the deliveries this node took on, by how: claimed from the
	// store, or handed over by the API as their message was accepted (see Take).
	started                  *prometheus.CounterVec
	startedClaim, startedAPI prometheus.Counter
	// circuitTransitions counts the circuit changes this node made, by new state.
	circuitTransitions *prometheus.CounterVec
}

// newMetrics creates the metrics and registers them with reg, if set.
func newMetrics(d *Dispatcher, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_delivery_attempts_total",
			Help: "Delivery attempts by outcome: success, retry (failed, will retry), failed (no retry left), and postponed (given back unattempted).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_delivery_attempt_duration_seconds",
			Help:    "Duration of delivery requests, from sending to the end of the response.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 13),
		}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_deliveries_taken_total",
			Help: "Deliveries this node took on, by how: claim (leased from the store) or handoff (handed over by the API as their message was accepted, without a claim).",
		}, []string{"via"}),
	}
	m.circuitTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_endpoint_circuit_transitions_total",
		Help: "Endpoint circuit breaker transitions this node made, by the state entered: open, half-open (a probe sent) or closed.",
	}, []string{"to"})
	for _, st := range []hookd.CircuitState{hookd.CircuitOpen, hookd.CircuitHalfOpen, hookd.CircuitClosed} {
		m.circuitTransitions.WithLabelValues(string(st)) // shown at 0 before the first
	}
	m.startedClaim, m.startedAPI = m.started.WithLabelValues("claim"), m.started.WithLabelValues("handoff")
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{
		m.deliveries, m.latency, m.started, m.circuitTransitions,
		circuitGauge(d),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hookd_delivery_queue_depth",
			Help: "Claimed deliveries held by this node that are not in flight (queued in endpoint lanes or waiting to be recorded).",
		}, func() float64 { return float64(d.held.Load() - d.inFlight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hookd_delivery_in_flight",
			Help: "Delivery requests in flight.",
		}, func() float64 { return float64(d.inFlight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hookd_nodes",
			Help: "Live hookd nodes sharing the store, this one included, as of the last heartbeat; endpoints' rate limits and concurrency caps are divided among them.",
		}, func() float64 { return float64(d.Nodes()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register delivery metrics: %w", err)
		}
	}
	return m, nil
}

// observe counts one recorded attempt.
func (m *metrics) observe(res *hookd.AttemptResult) {
	outcome := "failed"
	switch res.Status {
	case hookd.StatusSuccess:
		outcome = "success"
	case hookd.StatusPending:
		outcome = "retry"
	}
	m.deliveries.WithLabelValues(outcome).Inc()
	if res.Attempt.ResponseStatusCode != 0 || res.Attempt.Duration > 0 {
		m.latency.Observe(res.Attempt.Duration.Seconds())
	}
}

// circuitGauge counts the endpoints whose circuit is open or half-open, as this
// node's lanes last saw them.
func circuitGauge(d *Dispatcher) prometheus.Collector {
	desc := prometheus.NewDesc("hookd_endpoint_circuits",
		"Endpoints this node delivers to whose circuit breaker is open or half-open (as last read from the store), by state.",
		[]string{"state"}, nil)
	return collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		counts := map[hookd.CircuitState]int{hookd.CircuitOpen: 0, hookd.CircuitHalfOpen: 0}
		d.mu.Lock()
		for _, l := range d.lanes {
			if c := l.circuit.c.Load(); c != nil {
				if _, ok := counts[c.State]; ok {
					counts[c.State]++
				}
			}
		}
		d.mu.Unlock()
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), string(st))
		}
	}}
}

// collectorFunc is a prometheus.Collector of one metric family.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

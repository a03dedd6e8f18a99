package delivery

import (
	"testing"
	"time"
)

// TestAdaptiveLimits checks the numbers of AIMD: a throttling answer halves the
// lane's concurrency and rate, successes add them back by about one per round, and
// a limit that grows back to where it started is lifted.
func TestAdaptiveLimits(t *testing.T) {
	d := &Dispatcher{cfg: Config{EndpointConcurrency: 32}}
	d.nodes.Store(1)
	l := &lane{}
	l.setRate(40, 1)
	if l.rate != 40 {
		t.Fatalf("rate = %v, want 40", l.rate)
	}
	d.slowDown(l, 10*time.Millisecond)
	d.slowDown(l, 10*time.Millisecond) // within the cooldown: no second decrease
	if got := d.laneConcurrency(l); got != 16 {
		t.Errorf("concurrency after one throttling answer = %d, want 16", got)
	}
	if l.rate != 20 {
		t.Errorf("rate after one throttling answer = %v, want 20", l.rate)
	}
	l.decreased = time.Time{} // the cooldown over
	d.slowDown(l, 10*time.Millisecond)
	if got := d.laneConcurrency(l); got != 8 || l.rate != 10 {
		t.Errorf("after two = %d in flight at %v/s, want 8 at 10/s", got, l.rate)
	}
	// About a round of successes at 8 in flight (each adds 1/n) adds one.
	for range 9 {
		d.speedUp(l)
	}
	if got := d.laneConcurrency(l); got != 9 {
		t.Errorf("concurrency after a round of successes = %d, want 9", got)
	}
	for range 2000 {
		d.speedUp(l)
	}
	if l.aimdConc != 0 || l.adaptRate != 0 || l.rate != 40 || d.laneConcurrency(l) != 32 {
		t.Errorf("after many successes: aimd %v, adaptive rate %v, rate %v, concurrency %d; want the limits lifted",
			l.aimdConc, l.adaptRate, l.rate, d.laneConcurrency(l))
	}
	// Never below one request in flight, nor below minAdaptiveRate.
	for range 20 {
		l.decreased = time.Time{}
		d.slowDown(l, time.Second)
	}
	if d.laneConcurrency(l) != 1 || l.rate != minAdaptiveRate {
		t.Errorf("after many throttling answers: %d in flight at %v/s, want 1 at %v/s", d.laneConcurrency(l), l.rate, minAdaptiveRate)
	}
	// An endpoint's maxConcurrency is split among the nodes.
	m := &lane{maxConc: 5}
	d.nodes.Store(2)
	if got := d.laneCap(m); got != 3 {
		t.Errorf("share of maxConcurrency 5 on 2 nodes = %d, want 3", got)
	}
}

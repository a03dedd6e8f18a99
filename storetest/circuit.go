package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var circuitTests = []test{
	{"NeverStoredIsClosed", func(t *testing.T, f *fixture) {
		a := f.app()
		ep := f.endpoint(a.ID)
		c, err := f.s.Circuit(f.ctx, a.ID, ep.ID)
		must(t, err)
		if want := hookd.NewCircuit(a.ID, ep.ID); !reflect.DeepEqual(c, want) {
			t.Errorf("Circuit = %+v, want %+v", c, want)
		}
	}},
	{"SwapRoundTrip", func(t *testing.T, f *fixture) {
		a := f.app()
		ep := f.endpoint(a.ID)
		c := hookd.NewCircuit(a.ID, ep.ID)
		p := hookd.CircuitPolicy{Failures: 2, Backoff: time.Second, MaxBackoff: time.Minute}
		c.Failed(t0, p, "connection refused")
		c.Failed(t0.Add(time.Millisecond), p, "connection refused")
		c.Pause(t0.Add(30 * time.Second))
		ok, err := f.s.SwapCircuit(f.ctx, c)
		must(t, err)
		if !ok || c.Version != 1 {
			t.Fatalf("first SwapCircuit = %v, version %d; want true, 1", ok, c.Version)
		}
		got, err := f.s.Circuit(f.ctx, a.ID, ep.ID)
		must(t, err)
		if !reflect.DeepEqual(got, c) {
			t.Errorf("Circuit =\n%+v, want\n%+v", got, c)
		}
		got.TakeProbe(t0.Add(2*time.Second), t0.Add(20*time.Second))
		ok, err = f.s.SwapCircuit(f.ctx, got)
		must(t, err)
		if !ok || got.Version != 2 {
			t.Fatalf("second SwapCircuit = %v, version %d; want true, 2", ok, got.Version)
		}
		again, err := f.s.Circuit(f.ctx, a.ID, ep.ID)
		must(t, err)
		if !reflect.DeepEqual(again, got) {
			t.Errorf("Circuit after the probe =\n%+v, want\n%+v", again, got)
		}
	}},
	{"SwapFromAStaleVersionFails", func(t *testing.T, f *fixture) {
		// Two nodes read the same open circuit and both try to take its probe: one wins.
		a := f.app()
		ep := f.endpoint(a.ID)
		c := hookd.NewCircuit(a.ID, ep.ID)
		c.Failed(t0, hookd.CircuitPolicy{Failures: 1, Backoff: time.Second}, "timeout")
		mustSwap(t, f, c)
		n1, err := f.s.Circuit(f.ctx, a.ID, ep.ID)
		must(t, err)
		n2 := n1.Clone()
		n1.TakeProbe(t0.Add(time.Second), t0.Add(10*time.Second))
		n2.TakeProbe(t0.Add(time.Second), t0.Add(11*time.Second))
		ok1, err := f.s.SwapCircuit(f.ctx, n1)
		must(t, err)
		ok2, err := f.s.SwapCircuit(f.ctx, n2)
		must(t, err)
		if !ok1 || ok2 {
			t.Fatalf("SwapCircuit from one version twice = %v, %v; want true, false", ok1, ok2)
		}
		got, err := f.s.Circuit(f.ctx, a.ID, ep.ID)
		must(t, err)
		if !got.ProbeUntil.Equal(t0.Add(10 * time.Second)) {
			t.Errorf("ProbeUntil = %v, want the winner's %v", got.ProbeUntil, t0.Add(10*time.Second))
		}
		// Two first stores of a circuit: the second finds one stored already.
		other := f.endpoint(a.ID)
		f1, f2 := hookd.NewCircuit(a.ID, other.ID), hookd.NewCircuit(a.ID, other.ID)
		f1.Failures, f2.Failures = 1, 2
		ok1, err = f.s.SwapCircuit(f.ctx, f1)
		must(t, err)
		ok2, err = f.s.SwapCircuit(f.ctx, f2)
		must(t, err)
		if !ok1 || ok2 {
			t.Errorf("two first SwapCircuit = %v, %v; want true, false", ok1, ok2)
		}
	}},
	{"UnknownEndpointAndDelete", func(t *testing.T, f *fixture) {
		a := f.app()
		_, err := f.s.SwapCircuit(f.ctx, hookd.NewCircuit(a.ID, "ep_missing"))
		wantCode(t, err, hookd.ENOTFOUND)
		ep := f.endpoint(a.ID)
		c := hookd.NewCircuit(a.ID, ep.ID)
		c.Failures = 3
		mustSwap(t, f, c)
		// Another application's view of the endpoint is not found either.
		b := f.app()
		_, err = f.s.SwapCircuit(f.ctx, &hookd.Circuit{AppID: b.ID, EndpointID: ep.ID, State: hookd.CircuitClosed, Version: 1})
		wantCode(t, err, hookd.ENOTFOUND)
		must(t, f.s.DeleteEndpoint(f.ctx, a.ID, ep.ID))
		got, err := f.s.Circuit(f.ctx, a.ID, ep.ID)
		must(t, err)
		if got.Version != 0 || got.Failures != 0 {
			t.Errorf("circuit of a deleted endpoint = %+v, want none stored", got)
		}
	}},
}

// mustSwap stores c, failing t unless the swap succeeds.
func mustSwap(t *testing.T, f *fixture, c *hookd.Circuit) {
	t.Helper()
	ok, err := f.s.SwapCircuit(f.ctx, c)
	must(t, err)
	if !ok {
		t.Fatal("SwapCircuit = false, want true")
	}
}

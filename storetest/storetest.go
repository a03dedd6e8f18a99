// Package storetest is the conformance suite every hookd.Store passes. A store's own
// tests call Run with a function that opens a fresh, empty store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) hookd.Store { … })
//	}
//
// The suite is the executable form of the store interfaces' doc comments; where those
// comments leave a choice open, the test that settles it says so.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// Run runs the conformance suite against stores made by open. Each subtest opens its
// own store; open should register its cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) hookd.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"App", appTests},
		{"Endpoint", endpointTests},
		{"EventType", eventTypeTests},
		{"Message", messageTests},
		{"Delivery", deliveryTests},
		{"FIFO", fifoTests},
		{"Attempt", attemptTests},
		{"Record", recordTests},
		{"Idempotency", idempotencyTests},
		{"MessageAnswer", answerTests},
		{"Setting", settingTests},
		{"Node", nodeTests},
		{"Stats", statsTests},
		{"Token", tokenTests},
		{"Task", taskTests},
		{"Search", searchTests},
		{"Retention", retentionTests},
		{"Circuit", circuitTests},
		{"Expunge", expungeTests},
		{"Secret", secretTests},
		{"Store", storeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel() // each test has a store of its own
					tc.fn(t, newFixture(t, open(t)))
				})
			}
		})
	}
}

// test is one named conformance test.
type test struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// t0 is the suite's fixed starting time; IDs and timestamps are derived from it.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// fixture creates rows with IDs that sort in creation order, from a fixed clock that
// advances one millisecond per ID.
type fixture struct {
	t   *testing.T
	s   hookd.Store
	ctx context.Context
	now time.Time
}

func newFixture(t *testing.T, s hookd.Store) *fixture {
	return &fixture{t: t, s: s, ctx: t.Context(), now: t0}
}

// tick advances the fixture's clock by one millisecond and returns it.
func (f *fixture) tick() time.Time {
	f.now = f.now.Add(time.Millisecond)
	return f.now
}

// id returns a new ID made one tick later than the previous one.
func (f *fixture) id(prefix string) string {
	at := f.tick()
	return hookd.IDGen{Now: func() time.Time { return at }}.New(prefix)
}

func (f *fixture) app(mods ...func(*hookd.Application)) *hookd.Application {
	f.t.Helper()
	a := &hookd.Application{ID: f.id(hookd.PrefixApp), Name: "app", CreatedAt: f.now, UpdatedAt: f.now}
	for _, m := range mods {
		m(a)
	}
	if err := f.s.CreateApp(f.ctx, a); err != nil {
		f.t.Fatalf("CreateApp: %v", err)
	}
	return a
}

func (f *fixture) endpoint(appID string, mods ...func(*hookd.Endpoint)) *hookd.Endpoint {
	f.t.Helper()
	e := &hookd.Endpoint{
		ID: f.id(hookd.PrefixEndpoint), AppID: appID, URL: "https://example.com/hook",
		Secrets:   []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		CreatedAt: f.now, UpdatedAt: f.now,
	}
	for _, m := range mods {
		m(e)
	}
	if err := f.s.CreateEndpoint(f.ctx, e); err != nil {
		f.t.Fatalf("CreateEndpoint: %v", err)
	}
	return e
}

// newMessage returns an unsaved message of appID with a pending delivery, due at
// the message's timestamp, to each endpoint.
func (f *fixture) newMessage(appID string, eps []*hookd.Endpoint, mods ...func(*hookd.Message)) (*hookd.Message, []*hookd.Delivery) {
	m := &hookd.Message{
		ID: f.id(hookd.PrefixMessage), AppID: appID, EventType: "invoice.paid",
		Payload: []byte(`{"amount":100}`), Timestamp: f.now,
	}
	for _, mod := range mods {
		mod(m)
	}
	var ds []*hookd.Delivery
	for _, e := range eps {
		ds = append(ds, &hookd.Delivery{
			ID: f.id(hookd.PrefixDelivery), AppID: appID, MsgID: m.ID, EndpointID: e.ID,
			Status: hookd.StatusPending, NextAttempt: m.Timestamp, Trigger: hookd.TriggerScheduled,
			CreatedAt: m.Timestamp, UpdatedAt: m.Timestamp,
		})
	}
	return m, ds
}

// message creates a message of appID with a pending delivery to each endpoint.
func (f *fixture) message(appID string, eps []*hookd.Endpoint, mods ...func(*hookd.Message)) (*hookd.Message, []*hookd.Delivery) {
	f.t.Helper()
	m, ds := f.newMessage(appID, eps, mods...)
	if _, err := f.s.CreateMessage(f.ctx, m, ds); err != nil {
		f.t.Fatalf("CreateMessage: %v", err)
	}
	return m, ds
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code hookd.Code) {
	t.Helper()
	if got := hookd.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ids returns the IDs of items.
func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func appID(a *hookd.Application) string   { return a.ID }
func endpointID(e *hookd.Endpoint) string { return e.ID }
func messageID(m *hookd.Message) string   { return m.ID }
func attemptID(a *hookd.Attempt) string   { return a.ID }
func deliveryID(d *hookd.Delivery) string { return d.ID }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// pageAll reads every page of size limit through list and returns the IDs in order,
// checking that no page is larger than limit. It stops after 100 pages.
func pageAll(t *testing.T, limit int, asc bool, list func(hookd.Page) ([]string, error)) []string {
	t.Helper()
	var all []string
	page := hookd.Page{Limit: limit, Ascending: asc}
	for range 100 {
		got, err := list(page)
		if err != nil {
			t.Fatalf("list %+v: %v", page, err)
		}
		if len(got) > limit {
			t.Fatalf("list %+v: %d items, more than the limit", page, len(got))
		}
		all = append(all, got...)
		if len(got) < limit {
			return all
		}
		page.Iterator = got[len(got)-1]
	}
	t.Fatal("pagination did not end after 100 pages")
	return nil
}

// checkPaging pages through list in both orders with several page sizes and compares
// with want (ascending).
func checkPaging(t *testing.T, want []string, list func(hookd.Page) ([]string, error)) {
	t.Helper()
	for _, limit := range []int{1, 2, 3, 250} {
		if got := pageAll(t, limit, true, list); !equalStrings(got, want) {
			t.Errorf("ascending, limit %d: got %v, want %v", limit, got, want)
		}
		if got := pageAll(t, limit, false, list); !equalStrings(got, reversed(want)) {
			t.Errorf("descending, limit %d: got %v, want %v", limit, got, reversed(want))
		}
	}
}

// result returns the outcome of one attempt on the claimed delivery d, made one tick
// later: a success, or a failure to retry 5 s later.
func (f *fixture) result(d *hookd.Delivery, status hookd.Status, code int) hookd.AttemptResult {
	a := &hookd.Attempt{
		ID: f.id(hookd.PrefixAttempt), AppID: d.AppID, MsgID: d.MsgID, EndpointID: d.EndpointID,
		URL: "https://example.com/hook", Status: status, ResponseStatusCode: code,
		Response: `{"ok":true}`, Duration: 15 * time.Millisecond, Trigger: d.Trigger, Timestamp: f.now,
	}
	r := hookd.AttemptResult{Delivery: d, Attempt: a, Status: hookd.StatusSuccess, NextAttempt: f.now, Attempts: d.Attempts + 1}
	if status != hookd.StatusSuccess {
		r.Status = hookd.StatusPending
		r.NextAttempt = f.now.Add(5 * time.Second)
	}
	return r
}

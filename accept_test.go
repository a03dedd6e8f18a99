package hookd_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

func TestFanOut(t *testing.T) {
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	eps := []*hookd.Endpoint{
		{ID: "ep_all"},
		{ID: "ep_disabled", Disabled: true},
		{ID: "ep_paid", FilterTypes: []string{"invoice.paid"}},
		{ID: "ep_failed", FilterTypes: []string{"invoice.failed"}},
		{ID: "ep_eu", Channels: []string{"eu"}},
	}
	big, err := hookd.ParsePayloadFilter("payloadFilter", []byte(`{"path":"amount","gt":100}`))
	if err != nil {
		t.Fatal(err)
	}
	filtered := []*hookd.Endpoint{
		{ID: "ep_any"},
		{ID: "ep_big", PayloadFilter: big},
		{ID: "ep_big_paid", FilterTypes: []string{"invoice.paid"}, PayloadFilter: big},
	}
	tests := []struct {
		name     string
		msg      hookd.Message
		eps      []*hookd.Endpoint
		trigger  hookd.Trigger
		wantEnds []string
	}{
		{"no endpoints", hookd.Message{EventType: "invoice.paid"}, nil, hookd.TriggerScheduled, nil},
		{"matching ones in order", hookd.Message{EventType: "invoice.paid"}, eps, hookd.TriggerScheduled, []string{"ep_all", "ep_paid"}},
		{"channel", hookd.Message{EventType: "invoice.failed", Channels: []string{"eu"}}, eps, hookd.TriggerManual,
			[]string{"ep_all", "ep_failed", "ep_eu"}},
		{"payload filter matches", hookd.Message{EventType: "invoice.paid", Payload: []byte(`{"amount":250}`)}, filtered,
			hookd.TriggerScheduled, []string{"ep_any", "ep_big", "ep_big_paid"}},
		{"payload filter does not match", hookd.Message{EventType: "invoice.paid", Payload: []byte(`{"amount":50}`)}, filtered,
			hookd.TriggerScheduled, []string{"ep_any"}},
		{"payload filter after the event type", hookd.Message{EventType: "invoice.failed", Payload: []byte(`{"amount":250}`)}, filtered,
			hookd.TriggerScheduled, []string{"ep_any", "ep_big"}},
		{"undecodable payload matches no filter", hookd.Message{EventType: "invoice.paid", Payload: []byte(`{"amount":`)}, filtered,
			hookd.TriggerScheduled, []string{"ep_any"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg := tt.msg
			msg.ID, msg.AppID = "msg_1", "app_1"
			ds := hookd.FanOut(&msg, tt.eps, now, tt.trigger, hookd.IDGen{})
			var got []string
			seen := map[string]bool{}
			for _, d := range ds {
				got = append(got, d.EndpointID)
				if d.AppID != "app_1" || d.MsgID != "msg_1" || d.Status != hookd.StatusPending || d.Trigger != tt.trigger ||
					!d.NextAttempt.Equal(now) || !d.CreatedAt.Equal(now) || !d.UpdatedAt.Equal(now) || d.Attempts != 0 || d.Lease != 0 {
					t.Errorf("delivery = %+v", d)
				}
				if len(d.ID) < 5 || d.ID[:4] != hookd.PrefixDelivery || seen[d.ID] {
					t.Errorf("delivery ID %q: not a new delivery ID", d.ID)
				}
				seen[d.ID] = true
			}
			if !slices.Equal(got, tt.wantEnds) {
				t.Errorf("deliveries to %v, want %v", got, tt.wantEnds)
			}
		})
	}
}

// handoff records the calls Acceptor makes, and what the store held at each.
type handoff struct {
	t     *testing.T
	store hookd.Store
	take  int // how many of the offered deliveries Take takes
	calls []string
	taken []*hookd.Delivery
	got   []*hookd.Delivery // passed to Deliver or Abandon
}

func (h *handoff) Take(msg *hookd.Message, ds []*hookd.Delivery) []*hookd.Delivery {
	h.calls = append(h.calls, "take")
	if _, err := h.store.Message(context.Background(), msg.AppID, msg.ID); !hookd.IsNotFound(err) {
		h.t.Errorf("Take: the message is stored already (err %v); Take must come before the write", err)
	}
	h.taken = ds[:min(h.take, len(ds))]
	for _, d := range h.taken {
		d.Status, d.NextAttempt = hookd.StatusSending, msg.Timestamp.Add(time.Minute)
	}
	return h.taken
}

func (h *handoff) Deliver(taken []*hookd.Delivery) {
	h.calls = append(h.calls, "deliver")
	h.got = taken
}

func (h *handoff) Abandon(taken []*hookd.Delivery) {
	h.calls = append(h.calls, "abandon")
	h.got = taken
}

// acceptFixture is an application with three endpoints in a fresh SQLite store.
type acceptFixture struct {
	store hookd.Store
	app   *hookd.Application
	eps   []*hookd.Endpoint
	now   time.Time
}

func newAcceptFixture(t *testing.T) *acceptFixture {
	t.Helper()
	s, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &acceptFixture{store: s, now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
	f.app = &hookd.Application{ID: hookd.IDGen{}.New(hookd.PrefixApp), Name: "a", CreatedAt: f.now, UpdatedAt: f.now}
	if err := s.CreateApp(t.Context(), f.app); err != nil {
		t.Fatal(err)
	}
	for _, types := range [][]string{nil, {"invoice.paid"}, {"other"}} {
		e := &hookd.Endpoint{ID: hookd.IDGen{}.New(hookd.PrefixEndpoint), AppID: f.app.ID, URL: "https://example.com/",
			FilterTypes: types, Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: f.now, UpdatedAt: f.now}
		if err := s.CreateEndpoint(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		f.eps = append(f.eps, e)
	}
	return f
}

func (f *acceptFixture) message(eventID string) *hookd.Message {
	return &hookd.Message{ID: hookd.IDGen{}.New(hookd.PrefixMessage), AppID: f.app.ID, EventType: "invoice.paid",
		EventID: eventID, Payload: []byte(`{}`), Timestamp: f.now}
}

func TestAcceptorHandoff(t *testing.T) {
	t.Run("taken deliveries start after the commit", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		h := &handoff{t: t, store: f.store, take: 1}
		msg := f.message("")
		ds, err := hookd.Acceptor{Store: f.store, Handoff: h}.Accept(t.Context(), msg, f.eps, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 {
			t.Fatalf("accepted %d deliveries, want 2 (the endpoints that match)", len(ds))
		}
		if !slices.Equal(h.calls, []string{"take", "deliver"}) || len(h.got) != 1 || h.got[0] != ds[0] {
			t.Fatalf("calls %v with %v, want take then deliver of the one taken", h.calls, h.got)
		}
		stored, err := f.store.MessageDeliveries(t.Context(), f.app.ID, msg.ID, hookd.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]hookd.Status{}
		for _, d := range stored {
			status[d.ID] = d.Status
		}
		if len(stored) != 2 || status[ds[0].ID] != hookd.StatusSending || status[ds[1].ID] != hookd.StatusPending {
			t.Errorf("stored %v, want the taken delivery sending (leased) and the other pending", status)
		}
	})
	t.Run("a refused write abandons what was taken", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		first := f.message("evt-1")
		if _, err := (hookd.Acceptor{Store: f.store}).Accept(t.Context(), first, f.eps, time.Time{}); err != nil {
			t.Fatal(err)
		}
		h := &handoff{t: t, store: f.store, take: 5}
		_, err := hookd.Acceptor{Store: f.store, Handoff: h}.Accept(t.Context(), f.message("evt-1"), f.eps, time.Time{})
		if hookd.ErrorCode(err) != hookd.ECONFLICT {
			t.Fatalf("second message with the eventId: error %v, want a conflict", err)
		}
		if want := `a message with eventId "evt-1" already exists in this application (` + first.ID + `)`; hookd.ErrorMessage(err) != want {
			t.Errorf("message %q, want %q", hookd.ErrorMessage(err), want)
		}
		if !slices.Equal(h.calls, []string{"take", "abandon"}) || len(h.got) != 2 {
			t.Errorf("calls %v with %d deliveries, want take then abandon of both taken", h.calls, len(h.got))
		}
		msgs, err := f.store.Messages(t.Context(), f.app.ID, hookd.MessageFilter{}, hookd.Page{Limit: 10})
		if err != nil || len(msgs) != 1 {
			t.Errorf("messages after the conflict = %d, %v; want only the first", len(msgs), err)
		}
	})
	t.Run("a failed write abandons", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		h := &handoff{t: t, store: f.store, take: 5}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := hookd.Acceptor{Store: f.store, Handoff: h}.Accept(ctx, f.message(""), f.eps, time.Time{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want the store's (context canceled)", err)
		}
		if !slices.Equal(h.calls, []string{"take", "abandon"}) {
			t.Errorf("calls %v, want take then abandon", h.calls)
		}
	})
	t.Run("nothing taken, nothing handed back", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		h := &handoff{t: t, store: f.store, take: 0}
		if _, err := (hookd.Acceptor{Store: f.store, Handoff: h}).Accept(t.Context(), f.message(""), f.eps, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(h.calls, []string{"take"}) {
			t.Errorf("calls %v, want take only", h.calls)
		}
	})
	t.Run("no matching endpoint, no take", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		h := &handoff{t: t, store: f.store, take: 5}
		ds, err := hookd.Acceptor{Store: f.store, Handoff: h}.Accept(t.Context(), f.message(""), f.eps[2:], time.Time{})
		if err != nil || len(ds) != 0 || len(h.calls) != 0 {
			t.Errorf("Accept = %d deliveries, %v; calls %v; want the message alone, no hand-off", len(ds), err, h.calls)
		}
	})
	t.Run("deliveries due later are not taken", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		h := &handoff{t: t, store: f.store, take: 5}
		due := f.now.Add(time.Hour)
		ds, err := hookd.Acceptor{Store: f.store, Handoff: h}.Accept(t.Context(), f.message(""), f.eps, due)
		if err != nil || len(ds) != 2 || len(h.calls) != 0 {
			t.Fatalf("Accept = %d, %v; calls %v; want two deliveries and no hand-off", len(ds), err, h.calls)
		}
		if claimed, err := f.store.ClaimDeliveries(t.Context(), due.Add(-time.Millisecond), time.Minute, 10); err != nil || len(claimed) != 0 {
			t.Errorf("claimed %d before due, %v", len(claimed), err)
		}
		if claimed, err := f.store.ClaimDeliveries(t.Context(), due, time.Minute, 10); err != nil || len(claimed) != 2 {
			t.Errorf("claimed %d at due, %v; want 2", len(claimed), err)
		}
	})
	t.Run("without a handoff every delivery waits to be claimed", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t)
		ds, err := hookd.Acceptor{Store: f.store}.Accept(t.Context(), f.message(""), f.eps, time.Time{})
		if err != nil || len(ds) != 2 {
			t.Fatalf("Accept = %d, %v", len(ds), err)
		}
		claimed, err := f.store.ClaimDeliveries(t.Context(), f.now, time.Minute, 10)
		if err != nil || len(claimed) != 2 {
			t.Errorf("claimed %d, %v; want both deliveries", len(claimed), err)
		}
	})
}

// BenchmarkFanOut measures fan-out to 10 endpoints of a 1 KiB payload, without
// payload filters and with one on every endpoint (the payload decoded once).
func BenchmarkFanOut(b *testing.B) {
	f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(`{"and":[{"path":"data.amount","gt":100},{"path":"data.currency","in":["EUR","USD"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"type":"invoice.paid","data":{"amount":250,"currency":"EUR","note":"` + strings.Repeat("x", 900) + `"}}`)
	msg := &hookd.Message{ID: "msg_1", AppID: "app_1", EventType: "invoice.paid", Payload: payload}
	for _, filtered := range []bool{false, true} {
		eps := make([]*hookd.Endpoint, 10)
		for i := range eps {
			eps[i] = &hookd.Endpoint{ID: "ep_" + strconv.Itoa(i)}
			if filtered {
				eps[i].PayloadFilter = f
			}
		}
		name := "unfiltered"
		if filtered {
			name = "filtered"
		}
		b.Run(name, func(b *testing.B) {
			now := time.Now()
			for b.Loop() {
				if ds := hookd.FanOut(msg, eps, now, hookd.TriggerScheduled, hookd.IDGen{}); len(ds) != 10 {
					b.Fatalf("%d deliveries", len(ds))
				}
			}
		})
	}
}

package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// statusPtr returns a pointer to s for filters.
func statusPtr(s hookd.Status) *hookd.Status { return &s }

var messageTests = []test{
	{"CreateWithDeliveries", func(t *testing.T, f *fixture) {
		a := f.app()
		e1, e2 := f.endpoint(a.ID), f.endpoint(a.ID)
		m, ds := f.newMessage(a.ID, []*hookd.Endpoint{e1, e2}, func(m *hookd.Message) {
			m.EventID, m.Channels, m.Tags = "evt-1", []string{"eu", "vip"}, []string{"t1"}
		})
		got, err := f.s.CreateMessage(f.ctx, m, ds)
		must(t, err)
		if !reflect.DeepEqual(got, m) {
			t.Errorf("CreateMessage returned %+v, want the message", got)
		}
		for _, key := range []string{m.ID, m.EventID} {
			got, err := f.s.Message(f.ctx, a.ID, key)
			must(t, err)
			if !reflect.DeepEqual(got, m) {
				t.Errorf("Message(%q) = %+v, want %+v", key, got, m)
			}
		}
		stored, err := f.s.MessageDeliveries(f.ctx, a.ID, m.ID, hookd.Page{Limit: 10, Ascending: true})
		must(t, err)
		if len(stored) != 2 {
			t.Fatalf("MessageDeliveries = %d, want 2", len(stored))
		}
		for i, d := range stored {
			want := *ds[i]
			if !reflect.DeepEqual(d, &want) {
				t.Errorf("delivery %d =\n%+v, want\n%+v", i, d, &want)
			}
		}
	}},
	{"CreateWithoutDeliveries", func(t *testing.T, f *fixture) {
		a := f.app()
		m, _ := f.message(a.ID, nil)
		if _, err := f.s.Message(f.ctx, a.ID, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := f.s.NextDue(f.ctx); err != nil || ok {
			t.Errorf("NextDue = %v, %v; want nothing due", ok, err)
		}
	}},
	{"EventIDDeduplication", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		e := f.endpoint(a.ID)
		first, _ := f.message(a.ID, []*hookd.Endpoint{e}, func(m *hookd.Message) { m.EventID = "evt" })
		again, ds := f.newMessage(a.ID, []*hookd.Endpoint{e}, func(m *hookd.Message) {
			m.EventID, m.Payload = "evt", []byte(`{"second":true}`)
		})
		got, err := f.s.CreateMessage(f.ctx, again, ds)
		wantCode(t, err, hookd.ECONFLICT)
		if got == nil || !reflect.DeepEqual(got, first) {
			t.Fatalf("CreateMessage duplicate returned %+v, want the earlier message %+v", got, first)
		}
		if _, err := f.s.Message(f.ctx, a.ID, again.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("duplicate message was written: %v", err)
		}
		dels, err := f.s.MessageDeliveries(f.ctx, a.ID, again.ID, hookd.Page{Limit: 10})
		must(t, err)
		if len(dels) != 0 {
			t.Errorf("duplicate's deliveries were written: %d", len(dels))
		}
		counts, err := f.s.DeliveryCounts(f.ctx)
		must(t, err)
		if counts.Pending != 1 {
			t.Errorf("pending deliveries = %d, want 1", counts.Pending)
		}
		// The same EventID in another application is a different message.
		f.message(b.ID, nil, func(m *hookd.Message) { m.EventID = "evt" })
	}},
	{"ConcurrentCreateWithDuplicates", func(t *testing.T, f *fixture) {
		// Concurrent calls, some of them duplicates of one EventID: a store that
		// commits calls together must still fail only the duplicates.
		a := f.app()
		e := f.endpoint(a.ID)
		const n = 32
		msgs := make([]*hookd.Message, n)
		dels := make([][]*hookd.Delivery, n)
		for i := range n {
			msgs[i], dels[i] = f.newMessage(a.ID, []*hookd.Endpoint{e}, func(m *hookd.Message) {
				if i%2 == 0 {
					m.EventID = "same"
				}
			})
		}
		got := make([]*hookd.Message, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = f.s.CreateMessage(f.ctx, msgs[i], dels[i])
			}()
		}
		wg.Wait()
		var winner *hookd.Message
		for i := range n {
			if i%2 == 1 {
				if errs[i] != nil {
					t.Errorf("message %d without EventID failed: %v", i, errs[i])
				}
				continue
			}
			if errs[i] == nil {
				if winner != nil {
					t.Fatalf("two messages with one EventID accepted: %s and %s", winner.ID, msgs[i].ID)
				}
				winner = msgs[i]
			}
		}
		if winner == nil {
			t.Fatal("no message with the shared EventID accepted")
		}
		for i := 0; i < n; i += 2 {
			if errs[i] == nil {
				continue
			}
			wantCode(t, errs[i], hookd.ECONFLICT)
			if got[i] == nil || got[i].ID != winner.ID {
				t.Errorf("duplicate %d returned %+v, want the accepted message %s", i, got[i], winner.ID)
			}
		}
		counts, err := f.s.DeliveryCounts(f.ctx)
		must(t, err)
		if counts.Pending != n/2+1 {
			t.Errorf("pending deliveries = %d, want %d", counts.Pending, n/2+1)
		}
	}},
	{"Atomic", func(t *testing.T, f *fixture) {
		// Deliveries that cannot be written fail the whole call: neither the message
		// nor any delivery is kept. One has a taken ID, another is a second one to
		// the same endpoint; a store may let either through, but not both.
		a := f.app()
		e1, e2 := f.endpoint(a.ID), f.endpoint(a.ID)
		_, old := f.message(a.ID, []*hookd.Endpoint{e1})
		m, ds := f.newMessage(a.ID, []*hookd.Endpoint{e1, e2})
		ds[1].ID = old[0].ID
		again := *ds[0]
		again.ID = f.id(hookd.PrefixDelivery)
		ds = append(ds, &again)
		if _, err := f.s.CreateMessage(f.ctx, m, ds); err == nil {
			t.Fatal("CreateMessage with a taken delivery ID and two deliveries to one endpoint succeeded")
		}
		if _, err := f.s.Message(f.ctx, a.ID, m.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("message kept after failed CreateMessage: %v", err)
		}
		counts, err := f.s.DeliveryCounts(f.ctx)
		must(t, err)
		if counts != (hookd.EndpointStats{Pending: 1}) {
			t.Errorf("deliveries kept after failed CreateMessage: %+v", counts)
		}
	}},
	{"NotFoundAndIsolation", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		m, _ := f.message(a.ID, nil, func(m *hookd.Message) { m.EventID = "secret-evt" })
		_, err := f.s.Message(f.ctx, a.ID, "msg_missing")
		wantCode(t, err, hookd.ENOTFOUND)
		if msg := hookd.ErrorMessage(err); msg != "message not found" {
			t.Errorf("message = %q, want %q", msg, "message not found")
		}
		for _, key := range []string{m.ID, m.EventID} {
			_, err := f.s.Message(f.ctx, b.ID, key)
			wantCode(t, err, hookd.ENOTFOUND)
		}
		l, err := f.s.Messages(f.ctx, b.ID, hookd.MessageFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(l) != 0 {
			t.Errorf("app B lists %d messages of app A", len(l))
		}
		wantCode(t, f.s.ExpungeMessageContent(f.ctx, b.ID, m.ID), hookd.ENOTFOUND)
		wantCode(t, f.s.ExpungeMessageContent(f.ctx, a.ID, "msg_missing"), hookd.ENOTFOUND)
	}},
	{"ListPagination", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		var want []string
		for range 6 {
			m, _ := f.message(a.ID, nil)
			want = append(want, m.ID)
			f.message(b.ID, nil)
		}
		checkPaging(t, want, func(p hookd.Page) ([]string, error) {
			l, err := f.s.Messages(f.ctx, a.ID, hookd.MessageFilter{}, p)
			return ids(l, messageID), err
		})
	}},
	{"ListFilters", func(t *testing.T, f *fixture) {
		a := f.app()
		mk := func(eventType string, channels, tags []string, at time.Time) string {
			m, _ := f.message(a.ID, nil, func(m *hookd.Message) {
				m.EventType, m.Channels, m.Tags, m.Timestamp = eventType, channels, tags, at
			})
			return m.ID
		}
		m1 := mk("invoice.paid", []string{"eu"}, []string{"x"}, t0.Add(1*time.Hour))
		m2 := mk("invoice.failed", []string{"us", "eu"}, nil, t0.Add(2*time.Hour))
		m3 := mk("user.created", nil, []string{"x", "y"}, t0.Add(3*time.Hour))
		m4 := mk("invoice.paid", []string{"us"}, nil, t0.Add(4*time.Hour))
		cases := []struct {
			name   string
			filter hookd.MessageFilter
			want   []string
		}{
			{"none", hookd.MessageFilter{}, []string{m1, m2, m3, m4}},
			{"one event type", hookd.MessageFilter{EventTypes: []string{"invoice.paid"}}, []string{m1, m4}},
			{"two event types", hookd.MessageFilter{EventTypes: []string{"invoice.failed", "user.created"}}, []string{m2, m3}},
			{"channel", hookd.MessageFilter{Channel: "eu"}, []string{m1, m2}},
			{"tag", hookd.MessageFilter{Tag: "x"}, []string{m1, m3}},
			{"before is exclusive", hookd.MessageFilter{Before: t0.Add(3 * time.Hour)}, []string{m1, m2}},
			{"after is exclusive", hookd.MessageFilter{After: t0.Add(2 * time.Hour)}, []string{m3, m4}},
			{"window", hookd.MessageFilter{After: t0.Add(90 * time.Minute), Before: t0.Add(210 * time.Minute)}, []string{m2, m3}},
			{"combined", hookd.MessageFilter{EventTypes: []string{"invoice.paid"}, Channel: "us"}, []string{m4}},
			{"no match", hookd.MessageFilter{Channel: "asia"}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				l, err := f.s.Messages(f.ctx, a.ID, tc.filter, hookd.Page{Limit: 50, Ascending: true})
				must(t, err)
				if got := ids(l, messageID); !equalStrings(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
		// Filters and pagination combine.
		got := pageAll(t, 1, false, func(p hookd.Page) ([]string, error) {
			l, err := f.s.Messages(f.ctx, a.ID, hookd.MessageFilter{EventTypes: []string{"invoice.paid"}}, p)
			return ids(l, messageID), err
		})
		if !equalStrings(got, []string{m4, m1}) {
			t.Errorf("filtered pages = %v, want %v", got, []string{m4, m1})
		}
	}},
	{"ExpungeContent", func(t *testing.T, f *fixture) {
		a := f.app()
		m, _ := f.message(a.ID, nil)
		must(t, f.s.ExpungeMessageContent(f.ctx, a.ID, m.ID))
		got, err := f.s.Message(f.ctx, a.ID, m.ID)
		must(t, err)
		if string(got.Payload) != "{}" {
			t.Errorf("payload after expunge = %s, want {}", got.Payload)
		}
		if got.EventType != m.EventType || !got.Timestamp.Equal(m.Timestamp) {
			t.Errorf("expunge changed more than the payload: %+v", got)
		}
	}},
	{"PayloadRoundTrip", func(t *testing.T, f *fixture) {
		a := f.app()
		payload := `{ "text" :"h\u00e9llo \u2603 \"quoted\"","n":[1,2.5,null],"nested":{"a":{}}}`
		m, _ := f.message(a.ID, nil, func(m *hookd.Message) { m.Payload = []byte(payload) })
		got, err := f.s.Message(f.ctx, a.ID, m.ID)
		must(t, err)
		// Messages are immutable: the payload comes back byte for byte (signatures
		// are computed over these bytes).
		if string(got.Payload) != payload {
			t.Errorf("payload = %s, want byte for byte %s", got.Payload, payload)
		}
	}},
}

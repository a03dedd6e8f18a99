package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
)

// ingestFixture is a store on a fresh schema with one application and two endpoints.
type ingestFixture struct {
	s   *postgres.Store
	app *hookd.Application
	eps []*hookd.Endpoint
	gen hookd.IDGen
}

func newIngestFixture(t *testing.T) *ingestFixture {
	t.Helper()
	dsn := testDSN(t)
	f := &ingestFixture{s: openStore(t, dsn, newSchema(t, dsn))}
	f.app = &hookd.Application{ID: f.gen.New(hookd.PrefixApp), Name: "ingest", CreatedAt: t0, UpdatedAt: t0}
	if err := f.s.CreateApp(t.Context(), f.app); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ep := &hookd.Endpoint{ID: f.gen.New(hookd.PrefixEndpoint), AppID: f.app.ID, URL: "https://example.com",
			CreatedAt: t0, UpdatedAt: t0}
		if err := f.s.CreateEndpoint(t.Context(), ep); err != nil {
			t.Fatal(err)
		}
		f.eps = append(f.eps, ep)
	}
	return f
}

// message returns a new message of the fixture's application with the given EventID
// and one delivery to each endpoint.
func (f *ingestFixture) message(eventID string) (*hookd.Message, []*hookd.Delivery) {
	m := &hookd.Message{ID: f.gen.New(hookd.PrefixMessage), AppID: f.app.ID, EventType: "ingest.test",
		EventID: eventID, Payload: []byte(`{"n":1}`), Timestamp: t0}
	var ds []*hookd.Delivery
	for _, ep := range f.eps {
		ds = append(ds, &hookd.Delivery{ID: f.gen.New(hookd.PrefixDelivery), AppID: f.app.ID, MsgID: m.ID,
			EndpointID: ep.ID, Status: hookd.StatusPending, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0})
	}
	return m, ds
}

// stored returns how many deliveries message msgID has, or -1 if it does not exist.
func (f *ingestFixture) stored(t *testing.T, msgID string) int {
	t.Helper()
	if _, err := f.s.Message(t.Context(), f.app.ID, msgID); hookd.ErrorCode(err) == hookd.ENOTFOUND {
		return -1
	} else if err != nil {
		t.Fatal(err)
	}
	ds, err := f.s.MessageDeliveries(t.Context(), f.app.ID, msgID, hookd.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// TestIngestBatch writes hand-made batches and checks each call's own outcome.
func TestIngestBatch(t *testing.T) {
	t.Run("duplicate eventIds in one batch", func(t *testing.T) {
		f := newIngestFixture(t)
		old, oldDs := f.message("b")
		if _, err := f.s.CreateMessage(t.Context(), old, oldDs); err != nil {
			t.Fatal(err)
		}
		var msgs []*hookd.Message
		var dels [][]*hookd.Delivery
		for _, evt := range []string{"a", "a", "", "b", "a", ""} {
			m, ds := f.message(evt)
			msgs, dels = append(msgs, m), append(dels, ds)
		}
		got, errs := postgres.WriteMessages(f.s, t.Context(), msgs, dels)
		want := []struct {
			prev *hookd.Message // nil: accepted
			dels int
		}{{nil, 2}, {msgs[0], -1}, {nil, 2}, {old, -1}, {msgs[0], -1}, {nil, 2}}
		for i, w := range want {
			if w.prev == nil {
				if errs[i] != nil || got[i] != msgs[i] {
					t.Errorf("call %d = %v, %v; want its message accepted", i, got[i], errs[i])
				}
			} else {
				if hookd.ErrorCode(errs[i]) != hookd.ECONFLICT {
					t.Errorf("call %d error = %v, want ECONFLICT", i, errs[i])
				}
				if !reflect.DeepEqual(got[i], w.prev) {
					t.Errorf("call %d returned %+v, want the earlier message %+v", i, got[i], w.prev)
				}
			}
			if n := f.stored(t, msgs[i].ID); n != w.dels {
				t.Errorf("call %d: %d deliveries stored (-1: no message), want %d", i, n, w.dels)
			}
		}
	})

	// Each case spoils one call of a batch of four; the others must be written.
	failing := []struct {
		name  string
		spoil func(f *ingestFixture, m *hookd.Message, ds []*hookd.Delivery, old *hookd.Message, oldDs []*hookd.Delivery)
		code  hookd.Code // "" for any error
	}{
		{"two deliveries to one endpoint", func(_ *ingestFixture, _ *hookd.Message, ds []*hookd.Delivery, _ *hookd.Message, _ []*hookd.Delivery) {
			ds[1].EndpointID = ds[0].EndpointID
		}, hookd.ECONFLICT},
		{"taken message id", func(_ *ingestFixture, m *hookd.Message, ds []*hookd.Delivery, old *hookd.Message, _ []*hookd.Delivery) {
			m.ID = old.ID
			for _, d := range ds {
				d.MsgID = old.ID
			}
		}, hookd.ECONFLICT},
		{"unknown application", func(_ *ingestFixture, m *hookd.Message, ds []*hookd.Delivery, _ *hookd.Message, _ []*hookd.Delivery) {
			m.AppID = "app_missing"
			for _, d := range ds {
				d.AppID = m.AppID
			}
		}, hookd.ENOTFOUND},
	}
	for _, tc := range failing {
		t.Run("failing call: "+tc.name, func(t *testing.T) {
			f := newIngestFixture(t)
			old, oldDs := f.message("")
			if _, err := f.s.CreateMessage(t.Context(), old, oldDs); err != nil {
				t.Fatal(err)
			}
			var msgs []*hookd.Message
			var dels [][]*hookd.Delivery
			for i := range 4 {
				m, ds := f.message(fmt.Sprint("evt-", i))
				msgs, dels = append(msgs, m), append(dels, ds)
			}
			bad := msgs[2]
			badID := bad.ID
			tc.spoil(f, bad, dels[2], old, oldDs)
			_, errs := postgres.WriteMessages(f.s, t.Context(), msgs, dels)
			for i := range msgs {
				if i == 2 {
					if errs[i] == nil || (tc.code != "" && hookd.ErrorCode(errs[i]) != tc.code) {
						t.Errorf("spoiled call: error %v, want code %q", errs[i], tc.code)
					}
					continue
				}
				if errs[i] != nil {
					t.Errorf("call %d failed with the spoiled one: %v", i, errs[i])
				}
				if n := f.stored(t, msgs[i].ID); n != 2 {
					t.Errorf("call %d: %d deliveries stored (-1: no message), want 2", i, n)
				}
			}
			if bad.ID == badID {
				if n := f.stored(t, badID); n != -1 {
					t.Errorf("spoiled call's message was stored with %d deliveries", n)
				}
			}
			if n := f.stored(t, old.ID); n != 2 {
				t.Errorf("earlier message has %d deliveries, want 2", n)
			}
		})
	}

	t.Run("failed first call of an eventId lets the next one in", func(t *testing.T) {
		f := newIngestFixture(t)
		old, oldDs := f.message("")
		if _, err := f.s.CreateMessage(t.Context(), old, oldDs); err != nil {
			t.Fatal(err)
		}
		m1, ds1 := f.message("same")
		ds1[1].EndpointID = ds1[0].EndpointID // two to one endpoint: m1 fails
		m2, ds2 := f.message("same")
		got, errs := postgres.WriteMessages(f.s, t.Context(), []*hookd.Message{m1, m2}, [][]*hookd.Delivery{ds1, ds2})
		if errs[0] == nil {
			t.Error("call with two deliveries to one endpoint succeeded")
		}
		if errs[1] != nil || got[1] != m2 {
			t.Errorf("second call = %v, %v; want it accepted", got[1], errs[1])
		}
		if n := f.stored(t, m2.ID); n != 2 {
			t.Errorf("second message has %d deliveries (-1: none), want 2", n)
		}
	})

	t.Run("lists read back as given", func(t *testing.T) {
		f := newIngestFixture(t)
		lists := [][]string{nil, {}, {"eu"}, {"eu", "vip", `odd "name" \ ,{}`}}
		var msgs []*hookd.Message
		var dels [][]*hookd.Delivery
		for i, l := range lists {
			m, ds := f.message("")
			m.Channels, m.Tags = l, lists[len(lists)-1-i]
			msgs, dels = append(msgs, m), append(dels, ds)
		}
		_, errs := postgres.WriteMessages(f.s, t.Context(), msgs, dels)
		for i, m := range msgs {
			if errs[i] != nil {
				t.Fatalf("call %d: %v", i, errs[i])
			}
			got, err := f.s.Message(t.Context(), f.app.ID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("message %d reads back as\n%+v, want\n%+v", i, got, m)
			}
		}
	})
}

// TestIngestConcurrent sends many concurrent calls over a few EventIDs: per EventID
// exactly one is accepted and the others return it with ECONFLICT.
func TestIngestConcurrent(t *testing.T) {
	f := newIngestFixture(t)
	const calls, keys = 200, 7
	msgs := make([]*hookd.Message, calls)
	dels := make([][]*hookd.Delivery, calls)
	for i := range calls {
		evt := ""
		if i%2 == 0 {
			evt = fmt.Sprint("evt-", i%keys)
		}
		msgs[i], dels[i] = f.message(evt)
	}
	got := make([]*hookd.Message, calls)
	errs := make([]error, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = f.s.CreateMessage(context.Background(), msgs[i], dels[i])
		}()
	}
	close(start)
	wg.Wait()
	winners := map[string]*hookd.Message{}
	for i, m := range msgs {
		if errs[i] == nil {
			if m.EventID != "" && winners[m.EventID] != nil {
				t.Fatalf("two messages accepted for %s", m.EventID)
			}
			if m.EventID != "" {
				winners[m.EventID] = m
			}
			continue
		}
		if m.EventID == "" {
			t.Errorf("call %d without EventID failed: %v", i, errs[i])
		}
	}
	if len(winners) != keys {
		t.Fatalf("%d EventIDs accepted, want %d", len(winners), keys)
	}
	accepted := calls / 2
	for i, m := range msgs {
		if errs[i] == nil {
			continue
		}
		if hookd.ErrorCode(errs[i]) != hookd.ECONFLICT || got[i] == nil || got[i].ID != winners[m.EventID].ID {
			t.Errorf("call %d = %v, %v; want ECONFLICT with %s", i, got[i], errs[i], winners[m.EventID].ID)
		}
	}
	accepted += keys
	counts, err := f.s.DeliveryCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if counts.Pending != int64(2*accepted) {
		t.Errorf("pending deliveries = %d, want %d", counts.Pending, 2*accepted)
	}
	var txs int
	if err := f.s.Pool().QueryRow(t.Context(), `SELECT count(DISTINCT xmin::text) FROM messages`).Scan(&txs); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages written in %d transactions", accepted, txs)
}

// TestIngestClose: calls after Close fail, and Close can be called twice.
func TestIngestClose(t *testing.T) {
	f := newIngestFixture(t)
	m, ds := f.message("")
	if _, err := f.s.CreateMessage(t.Context(), m, ds); err != nil {
		t.Fatal(err)
	}
	f.s.Close()
	m2, ds2 := f.message("")
	if _, err := f.s.CreateMessage(t.Context(), m2, ds2); err == nil {
		t.Error("CreateMessage after Close succeeded")
	}
	f.s.Close()
}

package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

// TestFIFOExhausted checks what a FIFO endpoint does when a message fails for good:
// with "stop" the key halts until released, with "skip" the next message follows at
// once; either way the attempt log and message.attempt.exhausted say so.
func TestFIFOExhausted(t *testing.T) {
	for _, tc := range []struct {
		policy string
		held   bool
		note   string
	}{
		{hookd.FIFOStop, true, "is halted until this message is resent, recovered or released"},
		{hookd.FIFOSkip, false, "skipped, the next message of ordering key"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			ops, opt := withOps(t)
			e := newEnv(t, opt)
			// Message 1 always fails; the others succeed.
			var rc *receiver
			rc = newReceiver(t, func(i int, w http.ResponseWriter, _ *http.Request) {
				var body struct{ N int }
				_ = json.Unmarshal(rc.requests()[i-1].body, &body)
				if body.N == 1 {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			ep := e.endpoint(rc.URL, func(ep *hookd.Endpoint) {
				ep.RetrySchedule = "none"
				if err := ep.SetFIFO(true, tc.policy); err != nil {
					t.Fatal(err)
				}
			})
			acc := hookd.Acceptor{Store: e.store, Handoff: e.d, IDs: e.ids}
			var msgs []*hookd.Message
			for n := range 3 {
				m := &hookd.Message{ID: e.ids.New(hookd.PrefixMessage), AppID: e.app.ID, EventType: "a",
					Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), Timestamp: e.clock.Now(), OrderingKey: "cust-1"}
				ds, err := acc.Accept(context.Background(), m, []*hookd.Endpoint{ep}, m.Timestamp)
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) != 1 || !ds[0].Ordered || ds[0].OrderingKey != "cust-1" {
					t.Fatalf("fan-out to a FIFO endpoint = %+v, want one ordered delivery of key cust-1", ds)
				}
				msgs = append(msgs, m)
			}
			e.waitDelivery(msgs[0].ID, ep.ID, hookd.StatusSuccess)
			failed := e.waitDelivery(msgs[1].ID, ep.ID, hookd.StatusFail)
			ev := waitEvent(t, e, ops, "message.attempt.exhausted")
			fifo, _ := ev.Data["fifo"].(map[string]any)
			if ev.Data["msgId"] != msgs[1].ID || fifo["orderingKey"] != "cust-1" || fifo["halted"] != tc.held {
				t.Errorf("message.attempt.exhausted data %v, want msgId %s and fifo {orderingKey cust-1, halted %v}", ev.Data, msgs[1].ID, tc.held)
			}
			as := e.attempts(msgs[1].ID)
			if len(as) != 1 || !strings.Contains(as[0].Error, tc.note) {
				t.Errorf("attempts of the failed message = %+v, want one whose error says %q", as, tc.note)
			}
			if !tc.held {
				if failed.Held {
					t.Error("skipped delivery is held")
				}
				e.waitDelivery(msgs[2].ID, ep.ID, hookd.StatusSuccess)
				return
			}
			if !failed.Held {
				t.Fatal("failed delivery is not held")
			}
			if d := e.delivery(msgs[2].ID, ep.ID); d.Status != hookd.StatusPending || len(e.attempts(msgs[2].ID)) != 0 {
				t.Fatalf("message after the halted one: status %v, %d attempts; want pending, none", d.Status, len(e.attempts(msgs[2].ID)))
			}
			key := "cust-1"
			n, err := e.store.ReleaseFIFO(context.Background(), e.app.ID, ep.ID, &key)
			if err != nil || n != 1 {
				t.Fatalf("ReleaseFIFO = %d, %v; want 1", n, err)
			}
			e.waitDelivery(msgs[2].ID, ep.ID, hookd.StatusSuccess)
		})
	}
}

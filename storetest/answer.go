package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// answerTests check hookd.Message.Idempotency: the API's answer stored under its key
// in the message's own transaction.
var answerTests = []test{
	{"StoredWithMessage", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		m, ds := f.newMessage(a.ID, []*hookd.Endpoint{e}, withAnswer(f, "k1"))
		_, err := f.s.CreateMessage(f.ctx, m, ds)
		must(t, err)
		got, err := f.s.IdempotentResponse(f.ctx, "k1")
		must(t, err)
		if !reflect.DeepEqual(got, m.Idempotency) {
			t.Errorf("IdempotentResponse = %+v, want %+v", got, m.Idempotency)
		}
		if _, err := f.s.Message(f.ctx, a.ID, m.ID); err != nil {
			t.Errorf("message: %v", err)
		}
	}},
	{"RepeatReplaysAndStoresNothing", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID)
		first, _ := f.message(a.ID, []*hookd.Endpoint{e}, withAnswer(f, "k1"))
		again, ds := f.newMessage(a.ID, []*hookd.Endpoint{e}, withAnswer(f, "k1"))
		_, err := f.s.CreateMessage(f.ctx, again, ds)
		re, ok := errors.AsType[*hookd.IdempotentReplay](err)
		if !ok {
			t.Fatalf("CreateMessage with an answered key = %v, want an IdempotentReplay", err)
		}
		if !reflect.DeepEqual(re.Response, first.Idempotency) {
			t.Errorf("replayed %+v, want the first answer %+v", re.Response, first.Idempotency)
		}
		_, err = f.s.Message(f.ctx, a.ID, again.ID)
		wantCode(t, err, hookd.ENOTFOUND)
		if got := f.claim(f.tick().Add(time.Hour), 10); len(got) != 1 || got[0].MsgID != first.ID {
			t.Errorf("claimable deliveries %v, want only the first message's", got)
		}
	}},
	{"ClaimBusyThenStale", func(t *testing.T, f *fixture) {
		a := f.app()
		_, err := f.s.ClaimIdempotencyKey(f.ctx, "k1", f.now, time.Minute)
		must(t, err)
		m, _ := f.newMessage(a.ID, nil, withAnswer(f, "k1"))
		_, err = f.s.CreateMessage(f.ctx, m, nil)
		wantCode(t, err, hookd.EIDEMPOTENTBUSY)
		_, err = f.s.Message(f.ctx, a.ID, m.ID)
		wantCode(t, err, hookd.ENOTFOUND)
		later, _ := f.newMessage(a.ID, nil, withAnswer(f, "k1"))
		later.Idempotency.CreatedAt = f.now.Add(hookd.IdempotencyClaimStale + time.Second)
		_, err = f.s.CreateMessage(f.ctx, later, nil)
		must(t, err)
		got, err := f.s.IdempotentResponse(f.ctx, "k1")
		must(t, err)
		if !reflect.DeepEqual(got, later.Idempotency) {
			t.Errorf("after taking over a stale claim the key holds %+v", got)
		}
	}},
	{"EventIDConflictLeavesKeyFree", func(t *testing.T, f *fixture) {
		a := f.app()
		first, _ := f.message(a.ID, nil, func(m *hookd.Message) { m.EventID = "evt" })
		m, _ := f.newMessage(a.ID, nil, func(m *hookd.Message) { m.EventID = "evt" }, withAnswer(f, "k1"))
		prev, err := f.s.CreateMessage(f.ctx, m, nil)
		wantCode(t, err, hookd.ECONFLICT)
		if prev == nil || prev.ID != first.ID {
			t.Errorf("conflict returned %+v, want the first message", prev)
		}
		_, err = f.s.IdempotentResponse(f.ctx, "k1")
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"ConcurrentOneKeyOneMessage", func(t *testing.T, f *fixture) {
		a := f.app()
		const n = 8
		msgs := make([]*hookd.Message, n)
		for i := range msgs {
			msgs[i], _ = f.newMessage(a.ID, nil, withAnswer(f, "race"))
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range msgs {
			wg.Go(func() { _, errs[i] = f.s.CreateMessage(f.ctx, msgs[i], nil) })
		}
		wg.Wait()
		var winner *hookd.Message
		for i, err := range errs {
			if err == nil {
				if winner != nil {
					t.Fatalf("two messages created with one key: %s and %s", winner.ID, msgs[i].ID)
				}
				winner = msgs[i]
			}
		}
		if winner == nil {
			t.Fatalf("no message created: %v", errs)
		}
		for i, err := range errs {
			if err == nil {
				continue
			}
			re, ok := errors.AsType[*hookd.IdempotentReplay](err)
			if !ok || !reflect.DeepEqual(re.Response, winner.Idempotency) {
				t.Errorf("call %d: %v, want a replay of the winner's answer", i, err)
			}
		}
		list, err := f.s.Messages(f.ctx, a.ID, hookd.MessageFilter{}, hookd.Page{Limit: 50})
		must(t, err)
		if len(list) != 1 {
			t.Errorf("%d messages stored, want 1", len(list))
		}
	}},
	{"ConcurrentKeysAndEventIDs", func(t *testing.T, f *fixture) {
		// Distinct keys, one EventID: one message is created; the others conflict
		// and leave their keys free.
		a := f.app()
		const n = 8
		msgs := make([]*hookd.Message, n)
		for i := range msgs {
			msgs[i], _ = f.newMessage(a.ID, nil, func(m *hookd.Message) { m.EventID = "evt" }, withAnswer(f, fmt.Sprintf("key%d", i)))
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range msgs {
			wg.Go(func() { _, errs[i] = f.s.CreateMessage(f.ctx, msgs[i], nil) })
		}
		wg.Wait()
		created := 0
		for i, err := range errs {
			_, kerr := f.s.IdempotentResponse(f.ctx, msgs[i].Idempotency.Key)
			switch {
			case err == nil:
				created++
				must(t, kerr)
			case hookd.IsConflict(err):
				wantCode(t, kerr, hookd.ENOTFOUND)
			default:
				t.Errorf("call %d: %v", i, err)
			}
		}
		if created != 1 {
			t.Errorf("%d messages created, want 1", created)
		}
	}},
}

// withAnswer gives a message an answer to store under key, naming the message.
func withAnswer(f *fixture, key string) func(*hookd.Message) {
	return func(m *hookd.Message) {
		m.Idempotency = &hookd.IdempotentResponse{Key: key, StatusCode: 202, ContentType: "application/json",
			Body: []byte(`{"id":"` + m.ID + `"}`), CreatedAt: f.now}
	}
}

package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// TestExpungeAfterPurgesLeavesNoCopy checks that an erase leaves no copy of a live
// message's payload in the pages the retention purges freed (they must be zeroed as
// they are freed: a leaf freed after a rebalance may hold copies of its live
// neighbours' cells). Every other message's payload, attempt body and Idempotency-Key
// answer are purged (so that the leaves of messages, attempts and answers are
// rebalanced and freed), then the messages still live are erased: after
// ReclaimExpunged, and again after closing, the file and its WAL hold no byte sequence
// of their payloads, while a message kept is still found.
func TestExpungeAfterPurgesLeavesNoCopy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookd.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	ids := hookd.IDGen{}
	now := time.Now()
	app := &hookd.Application{ID: ids.New(hookd.PrefixApp), Name: "a", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: ids.New(hookd.PrefixEndpoint), AppID: app.ID, URL: "https://example.com/hook",
		CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	type sent struct {
		id, marker string
		purged     bool
	}
	msgs := make([]*sent, n)
	pad := strings.Repeat("p", 1000)
	for i := range msgs {
		m := &sent{id: ids.New(hookd.PrefixMessage), marker: fmt.Sprintf("gdprmarker%06dz", i), purged: i%4 != 0}
		msgs[i] = m
		payload := fmt.Sprintf(`{"secret":%q,"pad":%q}`, m.marker, pad)
		expires, answered := now.Add(time.Hour), now
		if m.purged {
			expires, answered = now.Add(-time.Minute), now.Add(-time.Hour)
		}
		msg := &hookd.Message{ID: m.id, AppID: app.ID, EventType: "a.b", Payload: []byte(payload), Timestamp: now,
			PayloadExpiresAt: expires, Idempotency: &hookd.IdempotentResponse{Key: "key-" + m.marker, StatusCode: 202,
				ContentType: "application/json", Body: []byte(`{"id":"` + m.id + `","payload":` + payload + `}`), CreatedAt: answered}}
		d := &hookd.Delivery{ID: ids.New(hookd.PrefixDelivery), AppID: app.ID, MsgID: m.id, EndpointID: ep.ID,
			Status: hookd.StatusPending, NextAttempt: now, Trigger: hookd.TriggerScheduled, CreatedAt: now, UpdatedAt: now}
		if _, err := s.CreateMessage(ctx, msg, []*hookd.Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
	// Each delivery succeeds with a response that echoes its payload.
	byID := map[string]*sent{}
	for _, m := range msgs {
		byID[m.id] = m
	}
	for {
		ds, err := s.ClaimDeliveries(ctx, time.Now().Add(time.Hour), time.Minute, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		rs := make([]hookd.AttemptResult, len(ds))
		for k, d := range ds {
			rs[k] = hookd.AttemptResult{Delivery: d, Status: hookd.StatusSuccess, NextAttempt: now, Attempts: 1,
				Attempt: &hookd.Attempt{ID: ids.New(hookd.PrefixAttempt), AppID: d.AppID, MsgID: d.MsgID,
					EndpointID: d.EndpointID, URL: ep.URL, Status: hookd.StatusSuccess, ResponseStatusCode: 200,
					Response: "echo " + byID[d.MsgID].marker + pad, Trigger: hookd.TriggerScheduled, Timestamp: now}}
		}
		if err := s.RecordAttempts(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}

	for {
		got, err := s.PurgePayloads(ctx, now, 500)
		if err != nil {
			t.Fatal(err)
		}
		if got < 500 {
			break
		}
	}
	if err := s.DeleteIdempotentResponses(ctx, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	var free int
	if err := s.DB().QueryRow(`PRAGMA freelist_count`).Scan(&free); err != nil || free == 0 {
		t.Fatalf("the purges freed %d pages (%v): the test needs some", free, err)
	}

	scan := func() []byte {
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	kept := msgs[n-4] // a message whose payload was not purged
	var erase []string
	for _, m := range msgs {
		if !m.purged && m != kept {
			erase = append(erase, m.id)
		}
	}
	found, err := s.ExpungeMessageContents(ctx, app.ID, erase)
	if err != nil || len(found) != len(erase) {
		t.Fatalf("expunge: found %d of %d, %v", len(found), len(erase), err)
	}
	if err := s.ReclaimExpunged(ctx, false); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		data := scan()
		if !bytes.Contains(data, []byte(kept.marker)) {
			t.Fatalf("%s: the scan does not find the payload of the message kept", when)
		}
		left := 0
		for _, m := range msgs {
			if !m.purged && m != kept && bytes.Contains(data, []byte(m.marker)) {
				left++
			}
		}
		if left > 0 {
			t.Errorf("%s: %d of %d erased payloads are still in the file or its WAL", when, left, len(erase))
		}
	}
	check("after ReclaimExpunged")
	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after closing")
}

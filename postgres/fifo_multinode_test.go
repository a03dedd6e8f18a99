package postgres_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/hookdtest"
)

// TestFIFOMultiNode runs three `hookd serve` nodes on one PostgreSQL schema with two
// FIFO endpoints whose receivers fail a third of their requests at random (retries
// 10 ms doubling to 50 ms), sends 11 keys × 40 messages (10 ordering keys and the
// messages without one) through the nodes in turn, each key's messages one after
// another, and kills one node with SIGKILL halfway. Each receiver must see every
// key's messages in send order: message n first arrives only after message n-1 was
// answered 2xx (hookdtest.FIFOReceiver); repeats of a message already received are
// allowed (at-least-once) and counted. The killed node's leases expire after twice
// its 2 s request timeout and another node takes those keys' heads.
func TestFIFOMultiNode(t *testing.T) {
	testDSN(t)
	if testing.Short() {
		t.Skip("skipping the multi-node FIFO test in -short mode")
	}
	bin := hookdtest.BuildBinary(t)
	dsn := clusterDSN(t)
	args := []string{"--db", dsn, "--addr", "127.0.0.1:0", "--allow-private", "--admin-token", clusterToken,
		"--encryption-key", "bXVsdGlub2RlLXRlc3QtZW5jcnlwdGlvbi1rZXktMDE=", "--request-timeout", "2s"}
	var nodes []*hookdtest.Process
	for range 3 {
		nodes = append(nodes, hookdtest.StartServe(t, bin, nil, args...))
	}
	api := hookdtest.API{Token: clusterToken, Client: &http.Client{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	keys := []string{""}
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	const perKey = 40
	var app struct{ ID string }
	if _, err := api.Do(ctx, "POST", nodes[0].URL+"/api/v1/app", nil, map[string]any{"name": "fifo"}, &app); err != nil {
		t.Fatal(err)
	}
	var rcvs []*hookdtest.FIFOReceiver
	for i := range 2 {
		rc := hookdtest.NewFIFOReceiver(t, len(keys)*perKey, 1.0/3, uint64(i+1))
		if _, err := api.Do(ctx, "POST", nodes[0].URL+"/api/v1/app/"+app.ID+"/endpoint", nil,
			map[string]any{"url": rc.URL, "fifo": true, "retrySchedule": "exponential:10ms,50ms,60"}, nil); err != nil {
			t.Fatal(err)
		}
		rcvs = append(rcvs, rc)
	}

	var sent, turn atomic.Int64
	var kill sync.Once
	start := time.Now()
	var killedAt time.Duration
	send := func(ctx context.Context, key string, n int) error {
		in := map[string]any{"eventType": "fifo.test", "eventId": fmt.Sprintf("%s-%d", key, n),
			"payload": map[string]any{"k": key, "n": n}}
		if key != "" {
			in["orderingKey"] = key
		}
		first := int(turn.Add(1))
		var errs []string
		for i := range 3 * len(nodes) {
			nd := nodes[(first+i)%len(nodes)]
			if nd.Exited() {
				continue
			}
			status, err := api.Do(ctx, "POST", nd.URL+"/api/v1/app/"+app.ID+"/msg", nil, in, nil)
			// 409: the eventId exists, an earlier try (to the killed node) was accepted.
			if err == nil || status == http.StatusConflict {
				if sent.Add(1) == int64(len(keys)*perKey/2) {
					kill.Do(func() {
						killedAt = time.Since(start)
						nodes[1].Kill()
					})
				}
				return nil
			}
			errs = append(errs, err.Error())
			if ctx.Err() != nil {
				break
			}
		}
		return fmt.Errorf("not accepted: %s", strings.Join(errs, "; "))
	}
	if err := hookdtest.SendOrdered(ctx, keys, perKey, send); err != nil {
		t.Fatal(err)
	}
	sentIn := time.Since(start)
	if !nodes[1].Exited() {
		t.Fatal("node 2 was not killed")
	}
	for i, rc := range rcvs {
		select {
		case <-rc.Done():
		case <-ctx.Done():
			t.Fatalf("receiver %d: not every message arrived; missing %s", i, rc.Missing(keys, perKey))
		}
		st := rc.Stats()
		for _, v := range st.Violations {
			t.Errorf("receiver %d: %s", i, v)
		}
		t.Logf("receiver %d: %d messages of %d keys in order, all received %s after the start; %d requests, %d answered 500, %d repeated (%d after a 2xx)",
			i, st.Acked, len(keys), time.Since(start).Round(time.Millisecond), st.Requests, st.Failed, st.Repeats, st.Duplicates)
	}
	t.Logf("3 nodes, node 2 killed (SIGKILL) after %s at %d messages sent; all %d sent in %s",
		killedAt.Round(time.Millisecond), len(keys)*perKey/2, len(keys)*perKey, sentIn.Round(time.Millisecond))
}

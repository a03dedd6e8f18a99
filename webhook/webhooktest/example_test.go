package webhooktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hookd/hookd/webhook"
	"github.com/hookd/hookd/webhook/webhooktest"
)

// sourceStore is a receiver's own store: it keeps the message IDs of several webhook
// sources in one shared store, each under its source's prefix, so that two sources
// may use the same ID.
type sourceStore struct {
	source string
	shared webhook.IdempotencyStore
}

func (s sourceStore) Claim(ctx context.Context, key string, lease time.Duration) (webhook.ClaimState, error) {
	return s.shared.Claim(ctx, s.source+":"+key, lease)
}

func (s sourceStore) Complete(ctx context.Context, key string, ttl time.Duration) error {
	return s.shared.Complete(ctx, s.source+":"+key, ttl)
}

func (s sourceStore) Release(ctx context.Context, key string) error {
	return s.shared.Release(ctx, s.source+":"+key)
}

// Example shows a store of a receiver's own on a Clock. Its test is one call of
// the conformance cases (see TestSourceStore in this package's tests):
//
//	func TestSourceStore(t *testing.T) {
//		webhooktest.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) webhook.IdempotencyStore {
//			return sourceStore{source: "github", shared: webhook.NewMemoryStore(0, now)}
//		})
//	}
func Example() {
	ctx := context.Background()
	clock := webhooktest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	shared := webhook.NewMemoryStore(0, clock.Now)
	github := sourceStore{source: "github", shared: shared}
	stripe := sourceStore{source: "stripe", shared: shared}

	first, _ := github.Claim(ctx, "evt_1", time.Minute)
	other, _ := stripe.Claim(ctx, "evt_1", time.Minute)
	again, _ := github.Claim(ctx, "evt_1", time.Minute)
	clock.Advance(time.Minute)
	afterLease, _ := github.Claim(ctx, "evt_1", time.Minute)
	fmt.Println(first, other, again, afterLease)
	// Output: claimed claimed in-flight claimed
}

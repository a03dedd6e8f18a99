// Package webhooktest checks implementations of the webhook package's interfaces.
//
// TestIdempotencyStore runs the cases every webhook.IdempotencyStore must pass.
// hookd runs it on webhook.MemoryStore and on its sqlite and postgres stores; a
// receiver that keeps message IDs in a store of its own (Redis, another database)
// runs it from its own tests with one call:
//
//	func TestRedisStore(t *testing.T) {
//		webhooktest.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) webhook.IdempotencyStore {
//			return newRedisStore(t, now) // new and empty, reading the time from now
//		})
//	}
//
// Like the webhook package, it needs only the standard library.
package webhooktest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// start is the time each case's clock shows until the case moves it.
var start = time.Unix(1674087231, 0)

// TestIdempotencyStore checks that the stores newStore returns behave as
// webhook.IdempotencyStore documents: one claim wins until its lease ends or it is
// released, a completed key is reported completed until its ttl ends, and
// concurrent claims of one key have a single winner. Each case is a subtest with a
// new, empty store from newStore, which must register any cleanup with t and make
// the store read the time from now: the cases move that clock by minutes and days
// instead of waiting.
func TestIdempotencyStore(t *testing.T, newStore func(t *testing.T, now func() time.Time) webhook.IdempotencyStore) {
	const (
		lease = time.Minute
		ttl   = 7 * 24 * time.Hour
	)
	cases := []struct {
		name string
		run  func(t *testing.T, s webhook.IdempotencyStore, clock *Clock)
	}{
		{"a claimed key is in flight", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			wantClaim(t, s, "a", lease, webhook.Claimed)
			wantClaim(t, s, "a", lease, webhook.InFlight)
		}},
		{"keys are independent", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			wantClaim(t, s, "a", lease, webhook.Claimed)
			wantClaim(t, s, "b", lease, webhook.Claimed)
			wantClaim(t, s, "a", lease, webhook.InFlight)
		}},
		{"a claim is held until its lease ends", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			wantClaim(t, s, "a", lease, webhook.Claimed)
			clock.Advance(lease - time.Second)
			wantClaim(t, s, "a", lease, webhook.InFlight)
			clock.Advance(time.Second)
			wantClaim(t, s, "a", lease, webhook.Claimed)
		}},
		{"a completed key is kept for its ttl", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			wantClaim(t, s, "a", lease, webhook.Claimed)
			complete(t, s, "a", ttl)
			wantClaim(t, s, "a", lease, webhook.Completed)
			clock.Advance(ttl - time.Second)
			wantClaim(t, s, "a", lease, webhook.Completed)
			clock.Advance(2 * time.Second)
			wantClaim(t, s, "a", lease, webhook.Claimed)
		}},
		{"a completed key outlives an expired lease", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			wantClaim(t, s, "a", lease, webhook.Claimed)
			clock.Advance(lease)
			complete(t, s, "a", ttl)
			wantClaim(t, s, "a", lease, webhook.Completed)
		}},
		{"release frees a claimed key", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			wantClaim(t, s, "a", lease, webhook.Claimed)
			release(t, s, "a")
			wantClaim(t, s, "a", lease, webhook.Claimed)
		}},
		{"release of an unknown key", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			release(t, s, "nope")
			wantClaim(t, s, "nope", lease, webhook.Claimed)
		}},
		{"concurrent claims have one winner", func(t *testing.T, s webhook.IdempotencyStore, clock *Clock) {
			for round := range 5 {
				key := fmt.Sprint("msg_", round)
				var winners atomic.Int32
				var wg sync.WaitGroup
				for range 32 {
					wg.Go(func() {
						st, err := s.Claim(t.Context(), key, lease)
						if err != nil {
							t.Error(err)
						}
						if st == webhook.Claimed {
							winners.Add(1)
						}
					})
				}
				wg.Wait()
				if winners.Load() != 1 {
					t.Errorf("%s: %d winners, want 1", key, winners.Load())
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewClock(start)
			c.run(t, newStore(t, clock.Now), clock)
		})
	}
}

func wantClaim(t *testing.T, s webhook.IdempotencyStore, key string, lease time.Duration, want webhook.ClaimState) {
	t.Helper()
	got, err := s.Claim(t.Context(), key, lease)
	if err != nil {
		t.Fatalf("Claim(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Claim(%q) = %v, want %v", key, got, want)
	}
}

func complete(t *testing.T, s webhook.IdempotencyStore, key string, ttl time.Duration) {
	t.Helper()
	if err := s.Complete(t.Context(), key, ttl); err != nil {
		t.Fatalf("Complete(%q): %v", key, err)
	}
}

func release(t *testing.T, s webhook.IdempotencyStore, key string) {
	t.Helper()
	if err := s.Release(t.Context(), key); err != nil {
		t.Fatalf("Release(%q): %v", key, err)
	}
}

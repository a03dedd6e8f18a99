package webhook_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestMemoryStore runs the behaviour every IdempotencyStore must have; the sqlite and
// postgres stores run the same steps in their packages.
func TestMemoryStore(t *testing.T) {
	clock := &manualClock{now: time.Unix(kaTimestamp, 0)}
	s := webhook.NewMemoryStore(10, clock.Now)

	steps := []struct {
		name    string
		do      func() (webhook.ClaimState, error)
		advance time.Duration
		want    webhook.ClaimState
	}{
		{"first claim", claim(s, "a", time.Minute), 0, webhook.Claimed},
		{"claim while in flight", claim(s, "a", time.Minute), 0, webhook.InFlight},
		{"other key", claim(s, "b", time.Minute), 0, webhook.Claimed},
		{"lease expired", claim(s, "a", time.Minute), time.Minute, webhook.Claimed},
		{"complete", complete(s, "a", 72*time.Hour), 0, 0},
		{"claim completed", claim(s, "a", time.Minute), 0, webhook.Completed},
		{"still completed after two days", claim(s, "a", time.Minute), 48 * time.Hour, webhook.Completed},
		{"forgotten after ttl", claim(s, "a", time.Minute), 25 * time.Hour, webhook.Claimed},
		{"release", release(s, "a"), 0, 0},
		{"claim released", claim(s, "a", time.Minute), 0, webhook.Claimed},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Fatalf("%s: state %v, want %v", st.name, got, st.want)
		}
	}
}

func claim(s webhook.IdempotencyStore, key string, lease time.Duration) func() (webhook.ClaimState, error) {
	return func() (webhook.ClaimState, error) { return s.Claim(context.Background(), key, lease) }
}

func complete(s webhook.IdempotencyStore, key string, ttl time.Duration) func() (webhook.ClaimState, error) {
	return func() (webhook.ClaimState, error) { return 0, s.Complete(context.Background(), key, ttl) }
}

func release(s webhook.IdempotencyStore, key string) func() (webhook.ClaimState, error) {
	return func() (webhook.ClaimState, error) { return 0, s.Release(context.Background(), key) }
}

func TestMemoryStoreBounded(t *testing.T) {
	ctx := context.Background()
	clock := &manualClock{now: time.Unix(kaTimestamp, 0)}

	t.Run("evicts the oldest when full", func(t *testing.T) {
		s := webhook.NewMemoryStore(3, clock.Now)
		for i := range 5 {
			key := fmt.Sprint("k", i)
			if _, err := s.Claim(ctx, key, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := s.Complete(ctx, key, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if s.Len() != 3 {
			t.Fatalf("Len = %d, want 3", s.Len())
		}
		if st, _ := s.Claim(ctx, "k4", time.Hour); st != webhook.Completed {
			t.Errorf("newest key state %v, want completed", st)
		}
		if st, _ := s.Claim(ctx, "k0", time.Hour); st != webhook.Claimed {
			t.Errorf("evicted key state %v, want claimed", st)
		}
	})

	t.Run("drops expired keys before live ones", func(t *testing.T) {
		s := webhook.NewMemoryStore(3, clock.Now)
		s.Claim(ctx, "live", time.Hour)
		s.Complete(ctx, "live", 24*time.Hour)
		s.Claim(ctx, "short1", time.Second)
		s.Claim(ctx, "short2", time.Second)
		clock.Advance(2 * time.Second)
		s.Claim(ctx, "new1", time.Hour)
		s.Claim(ctx, "new2", time.Hour)
		if st, _ := s.Claim(ctx, "live", time.Hour); st != webhook.Completed {
			t.Errorf("live key state %v, want completed", st)
		}
	})

	t.Run("concurrent claims have one winner", func(t *testing.T) {
		s := webhook.NewMemoryStore(0, nil)
		var winners atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, _ := s.Claim(ctx, "same", time.Minute); st == webhook.Claimed {
					winners.Add(1)
				}
			}()
		}
		wg.Wait()
		if winners.Load() != 1 {
			t.Errorf("%d winners, want 1", winners.Load())
		}
	})
}

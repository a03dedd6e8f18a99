package webhook_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
	"github.com/hookd/hookd/webhook/webhooktest"
)

// TestMemoryStore runs the cases every IdempotencyStore must pass.
func TestMemoryStore(t *testing.T) {
	webhooktest.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) webhook.IdempotencyStore {
		return webhook.NewMemoryStore(10, now)
	})
}

func TestMemoryStoreBounded(t *testing.T) {
	ctx := context.Background()
	clock := webhooktest.NewClock(time.Unix(kaTimestamp, 0))

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

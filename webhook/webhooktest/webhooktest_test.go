package webhooktest_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
	"github.com/hookd/hookd/webhook/webhooktest"
)

var _ webhook.IdempotencyStore = sourceStore{}

// TestSourceStore runs the conformance cases on a store written outside the webhook
// package, as a receiver would.
func TestSourceStore(t *testing.T) {
	webhooktest.TestIdempotencyStore(t, func(t *testing.T, now func() time.Time) webhook.IdempotencyStore {
		return sourceStore{source: "github", shared: webhook.NewMemoryStore(0, now)}
	})
}

func TestClock(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	c := webhooktest.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	c.Advance(36 * time.Hour)
	if got, want := c.Now(), start.Add(36*time.Hour); !got.Equal(want) {
		t.Fatalf("after Advance, Now = %v, want %v", got, want)
	}
}

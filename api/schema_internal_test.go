package api

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

// BenchmarkPayloadSchema measures what message create spends on schemas: looking up
// an event type that enforces nothing, and validating a payload against an enforced,
// cached schema.
func BenchmarkPayloadSchema(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hookd.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	schema := json.RawMessage(`{"type":"object","required":["amount","currency"],
		"properties":{"amount":{"type":"integer","minimum":0},"currency":{"enum":["EUR","USD"]},
		"email":{"type":"string","format":"email"},
		"lines":{"type":"array","maxItems":50,"items":{"type":"object","required":["sku"],
			"properties":{"sku":{"type":"string","minLength":1},"qty":{"type":"integer"}}}}}}`)
	now := time.Now()
	for _, et := range []*hookd.EventType{
		{Name: "enforced", EnforceSchema: true, Schemas: map[string]json.RawMessage{"1": schema}, CreatedAt: now, UpdatedAt: now},
		{Name: "free", Schemas: map[string]json.RawMessage{"1": schema}, CreatedAt: now, UpdatedAt: now},
	} {
		if err := st.CreateEventType(ctx, et); err != nil {
			b.Fatal(err)
		}
	}
	// A long TTL, so that the benchmark measures the cached path only.
	s := New(Config{Store: st, FanoutCacheTTL: time.Hour})
	payload := json.RawMessage(`{"amount":250,"currency":"EUR","email":"a@example.com","lines":[{"sku":"a","qty":1},{"sku":"b","qty":2},{"sku":"c","qty":3}]}`)
	for _, name := range []string{"free", "enforced"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := s.checkPayloadSchema(ctx, name, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
)

// benchStore opens a store on a fresh schema with an application and an endpoint.
func benchStore(b *testing.B) (*postgres.Store, *hookd.Endpoint) {
	dsn := testDSN(b)
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 16, Schema: newSchema(b, dsn)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	gen := hookd.IDGen{}
	app := &hookd.Application{ID: gen.New(hookd.PrefixApp), Name: "bench", CreatedAt: t0, UpdatedAt: t0}
	ep := &hookd.Endpoint{ID: gen.New(hookd.PrefixEndpoint), AppID: app.ID, URL: "https://example.com", CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateApp(context.Background(), app); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateEndpoint(context.Background(), ep); err != nil {
		b.Fatal(err)
	}
	return s, ep
}

func benchMessage(ep *hookd.Endpoint, i int) (*hookd.Message, []*hookd.Delivery) {
	gen := hookd.IDGen{}
	m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: ep.AppID, EventType: "bench",
		EventID: fmt.Sprint("evt-", i), Payload: []byte(`{"n":1}`), Timestamp: t0}
	d := &hookd.Delivery{ID: gen.New(hookd.PrefixDelivery), AppID: ep.AppID, MsgID: m.ID, EndpointID: ep.ID,
		Status: hookd.StatusPending, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0}
	return m, []*hookd.Delivery{d}
}

// BenchmarkCreateMessage measures accepting messages with one delivery each, from
// concurrent API requests: a few (8 on 2 CPUs) and many.
func BenchmarkCreateMessage(b *testing.B) {
	for _, par := range []int{4, 64} {
		b.Run(fmt.Sprint("clients=", par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			s, ep := benchStore(b)
			var n atomic.Int64
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m, ds := benchMessage(ep, int(n.Add(1)))
					if _, err := s.CreateMessage(context.Background(), m, ds); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkClaimRecord measures the dispatcher's side: claiming due deliveries in
// batches of 100 and recording their successful attempts, with 4 concurrent claimers.
func BenchmarkClaimRecord(b *testing.B) {
	s, ep := benchStore(b)
	ctx := context.Background()
	for i := 0; i < b.N; i += 500 {
		var ds []*hookd.Delivery
		var ms []*hookd.Message
		for j := i; j < min(i+500, b.N); j++ {
			m, d := benchMessage(ep, j)
			ms, ds = append(ms, m), append(ds, d...)
		}
		for k, m := range ms {
			if _, err := s.CreateMessage(ctx, m, ds[k:k+1]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range b.N { // bounded; ends when nothing is left to claim
				now := t0.Add(time.Second)
				ds, err := s.ClaimDeliveries(ctx, now, time.Minute, 100)
				if err != nil {
					b.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				results := make([]hookd.AttemptResult, len(ds))
				for i, d := range ds {
					results[i] = hookd.AttemptResult{Delivery: d, Status: hookd.StatusSuccess, Attempts: 1, NextAttempt: now,
						Attempt: &hookd.Attempt{ID: hookd.IDGen{}.New(hookd.PrefixAttempt), AppID: d.AppID, MsgID: d.MsgID,
							EndpointID: d.EndpointID, URL: ep.URL, Status: hookd.StatusSuccess, ResponseStatusCode: 204, Timestamp: now}}
				}
				if err := s.RecordAttempts(ctx, results); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

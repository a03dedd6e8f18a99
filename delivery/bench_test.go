package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/sqlite"
)

const benchPayload = `{"type":"invoice.paid","data":{"id":"in_1234567890","amount":4200,"currency":"eur","customer":"cus_abcdef"}}`

// insertMessages stores n messages, each with one delivery to each endpoint.
func insertMessages(b *testing.B, st *sqlite.Store, ids hookd.IDGen, appID string, eps []*hookd.Endpoint, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	for range n {
		msg := &hookd.Message{ID: ids.New(hookd.PrefixMessage), AppID: appID, EventType: "invoice.paid", Payload: json.RawMessage(benchPayload), Timestamp: now}
		var ds []*hookd.Delivery
		for _, ep := range eps {
			ds = append(ds, &hookd.Delivery{ID: ids.New(hookd.PrefixDelivery), AppID: appID, MsgID: msg.ID, EndpointID: ep.ID,
				Status: hookd.StatusPending, NextAttempt: now, CreatedAt: now, UpdatedAt: now})
		}
		if _, err := st.CreateMessage(ctx, msg, ds); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStore(b *testing.B, endpoints int, url string) (*sqlite.Store, hookd.IDGen, string, []*hookd.Endpoint) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var ids hookd.IDGen
	now := time.Now()
	app := &hookd.Application{ID: ids.New(hookd.PrefixApp), Name: "bench", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	var eps []*hookd.Endpoint
	for range endpoints {
		ep := &hookd.Endpoint{ID: ids.New(hookd.PrefixEndpoint), AppID: app.ID, URL: url,
			Secrets: []hookd.Secret{{Key: testSecret}}, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateEndpoint(ctx, ep); err != nil {
			b.Fatal(err)
		}
		eps = append(eps, ep)
	}
	return st, ids, app.ID, eps
}

// BenchmarkDeliver measures the whole dispatcher: claim, sign, POST to a loopback
// receiver, record. b.N deliveries are stored first; the timer covers delivering
// them all.
func BenchmarkDeliver(b *testing.B) {
	for _, endpoints := range []int{1, 10} {
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			var got atomic.Int64
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				got.Add(1)
			}))
			b.Cleanup(rc.Close)
			st, ids, appID, eps := benchStore(b, endpoints, rc.URL)
			msgs := (b.N + endpoints - 1) / endpoints
			insertMessages(b, st, ids, appID, eps, msgs)
			total := int64(msgs * endpoints)

			d, err := delivery.New(delivery.Config{Store: st, AllowPrivate: true})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() { done <- d.Run(ctx) }()
			for got.Load() < total {
				time.Sleep(time.Millisecond)
			}
			for {
				st, err := st.DeliveryCounts(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if st.Success == total {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(total)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkClaimRecord measures the store side of the dispatcher's cycle: claiming
// a batch of 200 deliveries and recording 200 successful attempts, per delivery.
func BenchmarkClaimRecord(b *testing.B) {
	st, ids, appID, eps := benchStore(b, 1, "http://example.com/hook")
	insertMessages(b, st, ids, appID, eps, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for done := 0; done < b.N; {
		now := time.Now()
		ds, err := st.ClaimDeliveries(ctx, now, time.Minute, 200)
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			b.Fatalf("claimed nothing after %d of %d", done, b.N)
		}
		results := make([]hookd.AttemptResult, len(ds))
		for i, dl := range ds {
			results[i] = hookd.AttemptResult{
				Delivery: dl, Status: hookd.StatusSuccess, NextAttempt: now, Attempts: 1,
				Attempt: &hookd.Attempt{ID: ids.New(hookd.PrefixAttempt), AppID: dl.AppID, MsgID: dl.MsgID,
					EndpointID: dl.EndpointID, URL: "http://example.com/hook", Status: hookd.StatusSuccess,
					ResponseStatusCode: 200, Timestamp: now},
			}
		}
		if err := st.RecordAttempts(ctx, results); err != nil {
			b.Fatal(err)
		}
		done += len(ds)
	}
}

package ui_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/sqlite"
)

// benchAttempts is how many attempts the benchmark's store holds.
const benchAttempts = 1_000_000

// Shape of the benchmark's data: one application with benchEndpoints endpoints, each
// message fanned out to all of them, one attempt per delivery, spread over the last
// day; one delivery in ten failed for good.
const (
	benchEndpoints = 10
	benchMessages  = benchAttempts / benchEndpoints
)

// benchFixture is the populated database and the IDs the pages are asked for.
type benchFixture struct {
	path         string
	appID, epID  string
	msgID, event string
}

// fillStore writes the benchmark's data through the store's own methods: messages
// with their deliveries, claims, and RecordAttempts (which keeps the counters the
// overview reads).
func fillStore(b *testing.B, path string) benchFixture {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	ids := hookd.IDGen{}
	app := &hookd.Application{ID: ids.New(hookd.PrefixApp), Name: "bench", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	var eps []*hookd.Endpoint
	for i := range benchEndpoints {
		e := &hookd.Endpoint{ID: ids.New(hookd.PrefixEndpoint), AppID: app.ID, URL: fmt.Sprintf("https://e%d.example.com/hook", i),
			Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateEndpoint(ctx, e); err != nil {
			b.Fatal(err)
		}
		eps = append(eps, e)
	}
	fx := benchFixture{path: path, appID: app.ID, epID: eps[0].ID}
	types := []string{"order.created", "order.paid", "order.shipped", "invoice.paid"}
	// Messages in parallel, so the store's writer commits them in batches.
	var wg sync.WaitGroup
	work := make(chan int)
	var mu sync.Mutex
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				at := now.Add(-time.Duration(benchMessages-i) * (24 * time.Hour / benchMessages))
				gen := hookd.IDGen{Now: func() time.Time { return at }}
				m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: app.ID, EventType: types[i%len(types)],
					EventID: fmt.Sprintf("evt-%d", i), Payload: []byte(`{"order":` + fmt.Sprint(i) + `,"amount":4200}`),
					Tags: []string{fmt.Sprintf("tag-%d", i%100)}, Timestamp: at}
				ds := hookd.FanOut(m, eps, at, hookd.TriggerScheduled, gen)
				if _, err := st.CreateMessage(ctx, m, ds); err != nil {
					b.Error(err)
					return
				}
				if i == benchMessages/2 {
					mu.Lock()
					fx.msgID, fx.event = m.ID, m.EventID
					mu.Unlock()
				}
			}
		}()
	}
	for i := range benchMessages {
		work <- i
	}
	close(work)
	wg.Wait()
	// Attempt every delivery once: nine in ten succeed.
	for {
		ds, err := st.ClaimDeliveries(ctx, now.Add(time.Minute), time.Hour, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		results := make([]hookd.AttemptResult, len(ds))
		for i, d := range ds {
			status, code := hookd.StatusSuccess, 200
			if rand.IntN(10) == 0 {
				status, code = hookd.StatusFail, 500
			}
			at := d.CreatedAt.Add(150 * time.Millisecond)
			a := &hookd.Attempt{ID: hookd.IDGen{Now: func() time.Time { return at }}.New(hookd.PrefixAttempt), AppID: d.AppID,
				MsgID: d.MsgID, EndpointID: d.EndpointID, URL: "https://example.com/hook", Status: status,
				ResponseStatusCode: code, Response: `{"ok":true}`, Duration: 40 * time.Millisecond, Timestamp: at}
			results[i] = hookd.AttemptResult{Delivery: d, Attempt: a, Status: status, NextAttempt: at, Attempts: 1}
		}
		if err := st.RecordAttempts(ctx, results); err != nil {
			b.Fatal(err)
		}
	}
	return fx
}

// benchDB returns a database with benchAttempts attempts: the one in
// HOOKD_UI_BENCH_DB if that file exists (its IDs in a file beside it), else a new one,
// kept there when the variable is set.
func benchDB(b *testing.B) benchFixture {
	path := os.Getenv("HOOKD_UI_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	meta := path + ".ids"
	if raw, err := os.ReadFile(meta); err == nil {
		fx := benchFixture{path: path}
		if _, err := fmt.Sscan(string(raw), &fx.appID, &fx.epID, &fx.msgID, &fx.event); err == nil {
			return fx
		}
	}
	start := time.Now()
	fx := fillStore(b, path)
	b.Logf("filled %s with %d attempts in %s", path, benchAttempts, time.Since(start).Round(time.Second))
	if err := os.WriteFile(meta, []byte(fmt.Sprintln(fx.appID, fx.epID, fx.msgID, fx.event)), 0o644); err != nil {
		b.Fatal(err)
	}
	return fx
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signedInClient signs in to the dashboard at base and returns a client with the
// session cookie.
func signedInClient(b *testing.B, base string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := c.Get(base + "/ui/signin")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		b.Fatal("no CSRF token on the sign-in page")
	}
	resp, err = c.PostForm(base+"/ui/signin", url.Values{"csrf": {string(m[1])}, "key": {adminToken}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/" {
		b.Fatalf("sign-in ended at %s", resp.Request.URL)
	}
	return c
}

// BenchmarkPages measures the dashboard's pages over HTTP on a store holding a
// million attempts.
func BenchmarkPages(b *testing.B) {
	fx := benchDB(b)
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = fx.path
	cfg.AdminToken = adminToken
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	c := signedInClient(b, srv.URL())
	app := "/ui/app/" + fx.appID
	pages := []struct{ name, path string }{
		{"overview", "/ui/"},
		{"search/latest", app + "/msg"},
		{"search/event_type", app + "/msg?event_type=invoice.paid"},
		{"search/event_type+time", app + "/msg?event_type=order.paid&after=" + url.QueryEscape(time.Now().UTC().Add(-6*time.Hour).Format("2006-01-02T15:04"))},
		{"search/tag", app + "/msg?tag=tag-7"},
		// Nothing matches: the whole application's messages are read to say so.
		{"search/tag_unknown", app + "/msg?tag=no-such-tag"},
		{"search/event_type_unknown", app + "/msg?event_type=no.such.type"},
		{"search/event_id", app + "/msg?event_id=" + fx.event},
		{"search/status_fail", app + "/msg?status=fail"},
		{"search/status_success_endpoint", app + "/msg?status=success&endpoint=" + fx.epID},
		{"attempts/endpoint", app + "/endpoint/" + fx.epID},
		{"attempts/endpoint_failed", app + "/endpoint/" + fx.epID + "?status=fail"},
		{"message", app + "/msg/" + fx.msgID},
		{"dead_letters", "/ui/dead-letters"},
		{"application", app},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(srv.URL() + p.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, resp.StatusCode)
				}
			}
		})
	}
}

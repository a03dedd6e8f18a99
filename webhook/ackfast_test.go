package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

func TestAckFast(t *testing.T) {
	p := mustProfile(t, "standard")
	signer := mustSigner(t, p, kaSecret)

	t.Run("acknowledges before the work and runs it", func(t *testing.T) {
		release := make(chan struct{})
		got := make(chan webhook.Message, 1)
		a := webhook.NewAckFast(webhook.AckFastConfig{Workers: 1}, func(ctx context.Context, m webhook.Message) error {
			<-release
			if cm, ok := webhook.MessageFromContext(ctx); !ok || cm.ID != m.ID {
				t.Error("message not in the work's context")
			}
			got <- m
			return nil
		})
		t.Cleanup(func() { a.Close(context.Background()) })
		mw := webhook.Middleware{Verifier: mustVerifier(t, p, []string{kaSecret})}
		srv := httptest.NewServer(mw.Wrap(a))
		t.Cleanup(srv.Close)

		h := signNow(t, signer, "msg_fast", []byte(kaBody))
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(kaBody))
		req.Header = h
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202", resp.StatusCode)
		}
		close(release) // the work starts only after the answer
		select {
		case m := <-got:
			if m.ID != "msg_fast" || string(m.Body) != kaBody {
				t.Errorf("work got %+v", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("work did not run")
		}
	})

	t.Run("full queue answers 503 with Retry-After", func(t *testing.T) {
		block := make(chan struct{})
		started := make(chan struct{}, 1)
		a := webhook.NewAckFast(webhook.AckFastConfig{Workers: 1, QueueSize: 1, RetryAfter: 1500 * time.Millisecond},
			func(ctx context.Context, m webhook.Message) error {
				started <- struct{}{}
				<-block
				return nil
			})
		t.Cleanup(func() { close(block); a.Close(context.Background()) })
		serve := func() *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			a.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
			return w
		}
		if w := serve(); w.Code != 202 { // taken by the worker
			t.Fatalf("first: %d", w.Code)
		}
		<-started
		if w := serve(); w.Code != 202 { // waits in the queue
			t.Fatalf("second: %d", w.Code)
		}
		w := serve()
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("third: %d Retry-After %q, want 503 and 2", w.Code, w.Header().Get("Retry-After"))
		}
	})

	t.Run("errors and panics are reported", func(t *testing.T) {
		var mu sync.Mutex
		var errs []error
		a := webhook.NewAckFast(webhook.AckFastConfig{Workers: 1, ErrorFunc: func(m webhook.Message, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}}, func(ctx context.Context, m webhook.Message) error {
			if string(m.Body) == "panic" {
				panic("boom")
			}
			return errors.New("failed")
		})
		for _, body := range []string{"panic", "error"} {
			a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
		}
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(errs) != 2 || !strings.Contains(errs[0].Error(), "boom") || errs[1].Error() != "failed" {
			t.Errorf("errors = %v", errs)
		}
	})

	t.Run("close drains and then refuses", func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		a := webhook.NewAckFast(webhook.AckFastConfig{Workers: 2, QueueSize: 10}, func(ctx context.Context, m webhook.Message) error {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			n++
			mu.Unlock()
			return nil
		})
		for range 10 {
			a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
		}
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n != 10 {
			t.Errorf("%d messages handled before Close returned, want 10", n)
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("after Close: %d, want 503", w.Code)
		}
	})

	t.Run("close gives up with its context", func(t *testing.T) {
		a := webhook.NewAckFast(webhook.AckFastConfig{Workers: 1}, func(ctx context.Context, m webhook.Message) error {
			<-ctx.Done() // cancelled when Close gives up
			return ctx.Err()
		})
		a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := a.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want deadline exceeded", err)
		}
	})

	t.Run("queue full behind middleware lets the retry through", func(t *testing.T) {
		block, taken := make(chan struct{}), make(chan struct{}, 4)
		a := webhook.NewAckFast(webhook.AckFastConfig{Workers: 1, QueueSize: 1}, func(ctx context.Context, m webhook.Message) error {
			taken <- struct{}{}
			<-block
			return nil
		})
		t.Cleanup(func() { close(block); a.Close(context.Background()) })
		store := webhook.NewMemoryStore(0, nil)
		h := (&webhook.Middleware{Verifier: mustVerifier(t, p, []string{kaSecret}), Store: store}).Wrap(a)
		codes := []int{}
		for i := range 4 {
			id := "msg_" + string(rune('a'+i))
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(kaBody))
			req.Header = signNow(t, signer, id, []byte(kaBody))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			codes = append(codes, w.Code)
			if i == 0 {
				<-taken // the worker holds the first: the others queue or are refused
			}
		}
		if codes[3] != http.StatusServiceUnavailable {
			t.Fatalf("codes %v, want the last to be 503", codes)
		}
		if st, _ := store.Claim(context.Background(), "msg_d", time.Minute); st != webhook.Claimed {
			t.Errorf("rejected message state %v, want released (claimable)", st)
		}
	})
}

package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/relay"
)

func TestHub(t *testing.T) {
	ctx := context.Background()
	h := relay.New()
	req := func() *hookd.RelayRequest {
		return &hookd.RelayRequest{AppID: "app_1", EndpointID: "ep_1", MsgID: "msg_1", Body: []byte(`{}`)}
	}

	t.Run("no listener", func(t *testing.T) {
		if _, err := h.Forward(ctx, req()); err == nil || !strings.Contains(err.Error(), "no hookd listen") {
			t.Fatalf("Forward without a listener: %v", err)
		}
	})

	t.Run("poll, forward, answer", func(t *testing.T) {
		polled := make(chan []*hookd.RelayRequest)
		go func() {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			polled <- h.Poll(pctx, "app_1", "ep_1", 10)
		}()
		answered := make(chan *hookd.RelayResponse)
		go func() {
			// The poller registers as connected before it waits; retry until it has.
			for {
				resp, err := h.Forward(ctx, req())
				if err == nil {
					answered <- resp
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		got := <-polled
		if len(got) != 1 || got[0].MsgID != "msg_1" || !strings.HasPrefix(got[0].ID, "rly_") {
			t.Fatalf("Poll = %+v", got)
		}
		if err := h.Answer("app_1", "ep_1", got[0].ID, &hookd.RelayResponse{Status: 204}); err != nil {
			t.Fatal(err)
		}
		if resp := <-answered; resp.Status != 204 {
			t.Errorf("Forward got %+v", resp)
		}
		if err := h.Answer("app_1", "ep_1", got[0].ID, &hookd.RelayResponse{Status: 200}); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("a second answer: %v, want ENOTFOUND", err)
		}
		if err := h.Answer("app_1", "ep_2", got[0].ID, &hookd.RelayResponse{Status: 200}); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("an answer for another endpoint: %v, want ENOTFOUND", err)
		}
	})

	t.Run("a request given up on is not handed out", func(t *testing.T) {
		// Still connected: the last poll ended a moment ago.
		fctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := h.Forward(fctx, req()); err == nil {
			t.Fatal("Forward with nobody answering returned no error")
		}
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer pcancel()
		if got := h.Poll(pctx, "app_1", "ep_1", 10); len(got) != 0 {
			t.Errorf("Poll handed out an abandoned request: %+v", got)
		}
	})
}

package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookd/hookd/hookdtest"
)

// TestDeliveredAttempt sends a message through the API to a real receiver that
// verifies the signature, then reads the attempt back through the API.
func TestDeliveredAttempt(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan error, 10)
	var verifier *webhook.Verifier
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- verifier.Verify(r.Header, body)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("thanks"))
	}))
	t.Cleanup(rcv.Close)
	ep, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL + "/hook"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := c.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	if err != nil {
		t.Fatal(err)
	}
	profile, err := webhook.LookupProfile("standard")
	if err != nil {
		t.Fatal(err)
	}
	if verifier, err = webhook.NewVerifier(profile, []string{secret.Key}); err != nil {
		t.Fatal(err)
	}
	msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]interface{}{"id": 1.0}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-received:
		if err != nil {
			t.Fatalf("receiver: signature does not verify: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery within 30s")
	}
	// The attempt is recorded after the response: wait for it.
	var attempts *svix.ListResponseMessageAttemptOut
	hookdtest.Eventually(t, 30*time.Second, "the attempt", func() bool {
		attempts, err = c.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(attempts.Data) > 0
	})
	if len(attempts.Data) != 1 {
		t.Fatalf("%d attempts listed, want 1", len(attempts.Data))
	}
	at := attempts.Data[0]
	if at.Status != 0 || at.ResponseStatusCode != 200 || at.Response != "thanks" || at.EndpointId != ep.Id || at.Url != rcv.URL+"/hook" {
		t.Fatalf("attempt = %+v", at)
	}
	got, err := c.MessageAttempt.Get(ctx, app.Id, msg.Id, at.Id, nil)
	if err != nil || got.Id != at.Id {
		t.Fatalf("get attempt = %+v, %v", got, err)
	}
	byEp, err := c.MessageAttempt.ListByEndpoint(ctx, app.Id, ep.Id, &svix.MessageAttemptListByEndpointOptions{WithMsg: ptr(true)})
	if err != nil || len(byEp.Data) != 1 || byEp.Data[0].Msg == nil || byEp.Data[0].Msg.Id != msg.Id {
		t.Fatalf("attempts by endpoint = %+v, %v", byEp, err)
	}
	dests, err := c.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
	if err != nil || len(dests.Data) != 1 || dests.Data[0].Status != 0 {
		t.Fatalf("destinations = %+v, %v", dests, err)
	}
	stats, err := c.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
	if err != nil || stats.Success != 1 {
		t.Fatalf("stats = %+v, %v", stats, err)
	}
}

// TestHandoffWithoutClaim checks that the API hands a new message's deliveries to the
// local dispatcher, which delivers them without claiming them from the store.
func TestHandoffWithoutClaim(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	const n = 20
	got := make(chan struct{}, n)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- struct{}{}
	}))
	t.Cleanup(rcv.Close)
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "invoice.paid", Payload: map[string]any{"n": i}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d deliveries within 30s", i, n)
		}
	}
	handoff, claim := takenMetric(t, ts.url, "handoff"), takenMetric(t, ts.url, "claim")
	// The dispatcher starts beside the API: allow a few early messages to be claimed.
	if handoff+claim != n || handoff < n-5 {
		t.Fatalf("deliveries taken: %v by handoff, %v by claim; want %d in all, nearly all by handoff", handoff, claim, n)
	}
}

// takenMetric reads hookd_deliveries_taken_total{via=via} from /metrics.
func takenMetric(t *testing.T, base, via string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	prefix := `hookd_deliveries_taken_total{via="` + via + `"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

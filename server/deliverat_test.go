package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// TestDeliverAt schedules a message with the SDK's deliverAt and checks that its
// delivery waits, pending, until then and is made once it is due.
func TestDeliverAt(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan time.Time, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- time.Now()
	}))
	t.Cleanup(rcv.Close)
	ep, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: rcv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}

	at := time.Now().Add(1500 * time.Millisecond)
	msg, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Payload: map[string]any{}, DeliverAt: &at}, nil)
	if err != nil {
		t.Fatalf("create with deliverAt: %v", err)
	}
	if msg.DeliverAt == nil || !msg.DeliverAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("answer's deliverAt = %v, want %v", msg.DeliverAt, at)
	}
	dests, err := c.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
	if err != nil || len(dests.Data) != 1 || dests.Data[0].Id != ep.Id || dests.Data[0].StatusText != "pending" ||
		dests.Data[0].NextAttempt == nil || !dests.Data[0].NextAttempt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("destinations before deliverAt = %+v, %v; want one pending until %v", dests, err, at)
	}
	select {
	case got := <-received:
		if got.Before(at) {
			t.Fatalf("delivered at %v, before deliverAt %v", got, at)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the scheduled message was never delivered")
	}

	// Now, or a moment ago (a client's clock may lag), is delivered at once.
	recent := time.Now().Add(-time.Minute)
	if _, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Payload: map[string]any{}, DeliverAt: &recent}, nil); err != nil {
		t.Fatalf("deliverAt a minute ago: %v", err)
	}
	select {
	case <-received:
	case <-time.After(30 * time.Second):
		t.Fatal("a message with deliverAt a minute ago was never delivered")
	}
	for _, bad := range []time.Time{time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)} {
		_, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "a.b", Payload: map[string]any{}, DeliverAt: &bad}, nil)
		wantStatus(t, err, http.StatusUnprocessableEntity)
	}
	code, body := ts.raw(t, "POST", "/api/v1/app/"+app.Id+"/msg", `{"eventType":"a.b","payload":{},"deliverAt":"tomorrow"}`)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("deliverAt not a date-time: %d %s", code, body)
	}
}

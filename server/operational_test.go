package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/webhook"
)

// TestOperationalAppReserved checks that the application carrying operational
// webhooks stays out of the application list, cannot be deleted or impersonated
// through the API, and is still readable by its UID.
func TestOperationalAppReserved(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(rcv.Close)
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *server.Config) {
		c.OperationalWebhookURL, c.OperationalWebhookSecret = rcv.URL, secret
	})
	ctx := context.Background()
	c := ts.client
	// The dispatcher creates the application as it starts; wait for it (at most 10 s).
	hookdtest.Eventually(t, 30*time.Second, "the operational application", func() bool {
		if _, err = c.Application.Get(ctx, hookd.OperationalAppUID); err != nil {
			wantStatus(t, err, http.StatusNotFound)
			return false
		}
		return true
	})
	if _, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []uint64{1, 2, 50} {
		list, err := c.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr(limit)})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Data) != 1 || list.Data[0].Uid == nil || *list.Data[0].Uid != "acme" || !list.Done {
			t.Fatalf("limit %d: list = %+v, want only acme and done", limit, list)
		}
	}
	err = c.Application.Delete(ctx, hookd.OperationalAppUID)
	wantStatus(t, err, http.StatusConflict)
	_, err = c.Application.Create(ctx, svix.ApplicationIn{Name: "Impostor", Uid: ptr(hookd.OperationalAppUID)}, nil)
	wantStatus(t, err, http.StatusUnprocessableEntity) // a reserved UID
	_, err = c.Application.Update(ctx, "acme", svix.ApplicationIn{Name: "Acme", Uid: ptr(hookd.OperationalAppUID)})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, err := c.Application.Get(ctx, hookd.OperationalAppUID); err != nil {
		t.Fatalf("operational application gone after refused delete: %v", err)
	}
}

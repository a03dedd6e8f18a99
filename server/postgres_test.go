package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
	svix "github.com/svix/svix-webhooks/go"
)

// TestPostgres drives the API on the PostgreSQL store, in a schema of its own.
func TestPostgres(t *testing.T) {
	db := postgresDB(t)
	ts := startServer(t, func(c *server.Config) { c.DB = db })
	ctx := context.Background()
	c := ts.client

	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, &svix.ApplicationCreateOptions{IdempotencyKey: ptr("k")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, &svix.ApplicationCreateOptions{IdempotencyKey: ptr("k")})
	if err != nil || again.Id != app.Id {
		t.Fatalf("idempotent create = %v, %v; want %s", again, err, app.Id)
	}
	ep, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/hook", FilterTypes: []string{"a.b"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/other", FilterTypes: []string{"c.d"}}, nil); err != nil {
		t.Fatal(err)
	}
	msg, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "a.b", EventId: ptr("e1"), Payload: map[string]interface{}{"x": 1.0}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "a.b", EventId: ptr("e1"), Payload: map[string]interface{}{}}, nil)
	wantStatus(t, err, http.StatusConflict)
	dests, err := c.MessageAttempt.ListAttemptedDestinations(ctx, "acme", msg.Id, nil)
	if err != nil || len(dests.Data) != 1 || dests.Data[0].Id != ep.Id {
		t.Fatalf("destinations = %+v, %v", dests, err)
	}
	_, err = c.Application.Get(ctx, "nope")
	wantStatus(t, err, http.StatusNotFound)
}

// postgresDB returns a DSN for a fresh schema of the test database (dropped when the
// test ends), or skips the test without HOOKD_TEST_POSTGRES.
func postgresDB(t *testing.T) string {
	t.Helper()
	return hookdtest.PostgresDSN(t)
}

// TestPostgresIdempotencyAcrossNodes sends one Idempotency-Key to two servers sharing a
// database at once: exactly one application is created, and every successful answer
// names it.
func TestPostgresIdempotencyAcrossNodes(t *testing.T) {
	db := postgresDB(t)
	nodes := []*testServer{
		startServer(t, func(c *server.Config) { c.DB = db }),
		startServer(t, func(c *server.Config) { c.DB = db }),
	}
	const requests = 16
	type answer struct {
		status int
		id     string
	}
	answers := make([]answer, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, nodes[i%2].url+"/api/v1/app", strings.NewReader(`{"name":"Acme"}`))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "same-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			answers[i] = answer{resp.StatusCode, body.ID}
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, a := range answers {
		switch a.status {
		case http.StatusCreated:
			ids[a.id] = true
		case http.StatusConflict: // the key was still being answered by the other request
		default:
			t.Errorf("request %d: status %d", i, a.status)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("successful answers name %d applications (%v); want exactly one", len(ids), ids)
	}
	list, err := nodes[0].client.Application.List(context.Background(), &svix.ApplicationListOptions{Limit: ptr(uint64(100))})
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, app := range list.Data {
		if app.Name == "Acme" {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d applications named Acme exist; want 1", created)
	}
}

// TestPostgresMessageIdempotencyAcrossNodes sends one message with one Idempotency-Key
// to two servers sharing a database at once. The key is stored in the message's own
// transaction: exactly one message is created, and every request, on either node, is
// answered 202 with it (no request is turned away as busy).
func TestPostgresMessageIdempotencyAcrossNodes(t *testing.T) {
	db := postgresDB(t)
	nodes := []*testServer{
		startServer(t, func(c *server.Config) { c.DB = db }),
		startServer(t, func(c *server.Config) { c.DB = db }),
	}
	ctx := context.Background()
	app, err := nodes[0].client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const requests = 16
	type answer struct {
		status int
		id     string
	}
	answers := make([]answer, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, nodes[i%2].url+"/api/v1/app/"+app.Id+"/msg",
				strings.NewReader(`{"eventType":"invoice.paid","payload":{"n":1}}`))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "same-message-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			answers[i] = answer{resp.StatusCode, body.ID}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, a := range answers {
		if a.status != http.StatusAccepted {
			t.Errorf("request %d: status %d", i, a.status)
		}
		ids[a.id] = true
	}
	if len(ids) != 1 {
		t.Fatalf("answers name %d messages (%v); want exactly one", len(ids), ids)
	}
	list, err := nodes[0].client.Message.List(ctx, app.Id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Data) != 1 {
		t.Fatalf("%d messages exist; want 1", len(list.Data))
	}
}

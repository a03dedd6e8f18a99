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
	answers := sameKeyPOSTs(t, nodes, "/api/v1/app", `{"name":"Acme"}`, "same-key")
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
	answers := sameKeyPOSTs(t, nodes, "/api/v1/app/"+app.Id+"/msg", `{"eventType":"invoice.paid","payload":{"n":1}}`, "same-message-key")
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

// keyedAnswer is a server's answer to one of sameKeyPOSTs' requests.
type keyedAnswer struct {
	status int
	id     string
}

// sameKeyPOSTs sends 16 POSTs of body to path at once, in turn to each of nodes, all
// with one Idempotency-Key, and returns each answer's status and the id it names.
func sameKeyPOSTs(t *testing.T, nodes []*testServer, path, body, key string) []keyedAnswer {
	t.Helper()
	answers := make([]keyedAnswer, 16)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, nodes[i%len(nodes)].url+path, strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var out struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			answers[i] = keyedAnswer{resp.StatusCode, out.ID}
		})
	}
	wg.Wait()
	return answers
}

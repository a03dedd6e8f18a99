package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"

	"github.com/hookd/hookd/webhook"

	"github.com/hookd/hookd/hookdtest"
)

// opsReceiver collects the operational events one endpoint gets, verified with the
// secret it is given.
type opsReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	secrets []string
	events  []string // event types, in arrival order
	bad     int      // requests whose signature did not verify
}

func newOpsReceiver(t *testing.T) *opsReceiver {
	o := &opsReceiver{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		defer o.mu.Unlock()
		p, _ := webhook.LookupProfile("standard")
		v, err := webhook.NewVerifier(p, o.secrets)
		if err != nil || v.Verify(r.Header, body) != nil {
			o.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct{ Type string }
		_ = json.Unmarshal(body, &ev)
		o.events = append(o.events, ev.Type)
	}))
	t.Cleanup(o.Close)
	return o
}

// setSecret sets the secrets a signature may be made with.
func (o *opsReceiver) setSecret(s ...string) {
	o.mu.Lock()
	o.secrets = s
	o.mu.Unlock()
}

// waitEvents waits until the receiver has got want (in any order) and fails if it got
// more or a badly signed request.
func (o *opsReceiver) waitEvents(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	var got []string
	hookdtest.Eventually(t, 30*time.Second, fmt.Sprintf("%d operational events", len(want)), func() bool {
		o.mu.Lock()
		got = slices.Sorted(slices.Values(o.events))
		bad := o.bad
		o.mu.Unlock()
		if bad > 0 {
			t.Fatalf("%d operational requests failed to verify", bad)
		}
		return len(got) >= len(want)
	})
	if !slices.Equal(got, want) {
		t.Fatalf("operational events %v, want %v", got, want)
	}
}

// TestOperationalWebhookEndpoints registers operational endpoints through the SDK:
// each gets the operational events its event types take, signed with its own secret,
// which rotates like an endpoint's.
func TestOperationalWebhookEndpoints(t *testing.T) {
	ts := startServer(t)
	c, ctx := ts.client, t.Context()
	ops := c.OperationalWebhook.Endpoint
	filtered, all := newOpsReceiver(t), newOpsReceiver(t)

	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := ops.Create(ctx, svix.OperationalWebhookEndpointIn{
		Url: filtered.URL, Uid: ptr("ops-filtered"), Description: ptr("created and deleted only"),
		FilterTypes: []string{"endpoint.created", "endpoint.deleted"}, Secret: &secret,
		Metadata: &map[string]string{"team": "sre"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Url != filtered.URL || ep.Uid == nil || *ep.Uid != "ops-filtered" || ep.Description != "created and deleted only" ||
		!slices.Equal(ep.FilterTypes, []string{"endpoint.created", "endpoint.deleted"}) || ep.Metadata["team"] != "sre" {
		t.Fatalf("created = %+v", ep)
	}
	filtered.setSecret(secret)
	got, err := ops.GetSecret(ctx, ep.Id)
	if err != nil || got.Key != secret {
		t.Fatalf("secret = %+v, %v; want the one given", got, err)
	}
	allEp, err := ops.Create(ctx, svix.OperationalWebhookEndpointIn{Url: all.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	allSecret, err := ops.GetSecret(ctx, allEp.Id)
	if err != nil {
		t.Fatal(err)
	}
	all.setSecret(allSecret.Key)

	list, err := ops.List(ctx, nil)
	if err != nil || len(list.Data) != 2 || !list.Done {
		t.Fatalf("list = %+v, %v", list, err)
	}
	read, err := ops.Get(ctx, "ops-filtered")
	if err != nil || read.Id != ep.Id {
		t.Fatalf("get by uid = %+v, %v", read, err)
	}
	if err := ops.UpdateHeaders(ctx, ep.Id, svix.OperationalWebhookEndpointHeadersIn{Headers: map[string]string{"X-Team": "sre"}}); err != nil {
		t.Fatal(err)
	}
	if h, err := ops.GetHeaders(ctx, ep.Id); err != nil || h.Headers["X-Team"] != "sre" {
		t.Fatalf("headers = %+v, %v", h, err)
	}

	// Application endpoint changes are operational events.
	if _, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	appEp, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/hook"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Endpoint.Patch(ctx, "acme", appEp.Id, svix.EndpointPatch{Description: ptr("changed")}); err != nil {
		t.Fatal(err)
	}
	filtered.waitEvents(t, "endpoint.created")
	all.waitEvents(t, "endpoint.created", "endpoint.updated")

	// After a rotation the new secret signs (and the old one, for the grace period).
	if err := ops.RotateSecret(ctx, ep.Id, svix.OperationalWebhookEndpointSecretIn{}, nil); err != nil {
		t.Fatal(err)
	}
	rotated, err := ops.GetSecret(ctx, ep.Id)
	if err != nil || rotated.Key == secret {
		t.Fatalf("secret after rotate = %+v, %v; want a new one", rotated, err)
	}
	filtered.setSecret(rotated.Key, secret)
	if err := c.Endpoint.Delete(ctx, "acme", appEp.Id); err != nil {
		t.Fatal(err)
	}
	filtered.waitEvents(t, "endpoint.created", "endpoint.deleted")
	all.waitEvents(t, "endpoint.created", "endpoint.deleted", "endpoint.updated")

	// A disabled operational endpoint gets nothing; a deleted one is gone.
	up, err := ops.Update(ctx, allEp.Id, models.OperationalWebhookEndpointUpdate{Url: all.URL, Disabled: ptr(true)})
	if err != nil || up.Disabled == nil || !*up.Disabled {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if err := ops.Delete(ctx, ep.Id); err != nil {
		t.Fatal(err)
	}
	_, err = ops.Get(ctx, ep.Id)
	wantStatus(t, err, http.StatusNotFound)
	// A new operational endpoint gets the next event; the disabled one does not, as
	// one message carries the event to every operational endpoint.
	witness := newOpsReceiver(t)
	wEp, err := ops.Create(ctx, svix.OperationalWebhookEndpointIn{Url: witness.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wSecret, err := ops.GetSecret(ctx, wEp.Id)
	if err != nil {
		t.Fatal(err)
	}
	witness.setSecret(wSecret.Key)
	if _, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/again"}, nil); err != nil {
		t.Fatal(err)
	}
	witness.waitEvents(t, "endpoint.created")
	all.waitEvents(t, "endpoint.created", "endpoint.deleted", "endpoint.updated")

	_, err = ops.Create(ctx, svix.OperationalWebhookEndpointIn{Url: "not a url"}, nil)
	wantStatus(t, err, http.StatusUnprocessableEntity)
	_, err = ops.Get(ctx, "ep_missing")
	wantStatus(t, err, http.StatusNotFound)
}

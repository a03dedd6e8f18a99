package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
)

// TestUsageStatistics runs the contract's two usage aggregates through the SDK: the
// message destinations of each application in a window, and the event types each
// application's endpoints subscribe to, both as background tasks.
func TestUsageStatistics(t *testing.T) {
	ts := startServer(t)
	c, ctx := ts.client, t.Context()
	rc := newCounter(t)
	for _, uid := range []string{"acme", "beta", "idle"} {
		if _, err := c.Application.Create(ctx, svix.ApplicationIn{Name: uid, Uid: ptr(uid)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []struct {
		app   string
		types []string
	}{{"acme", []string{"b.two", "a.one"}}, {"acme", []string{"a.one"}}, {"beta", nil}} {
		if _, err := c.Endpoint.Create(ctx, e.app, svix.EndpointIn{Url: rc.URL, FilterTypes: e.types}, nil); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-time.Second)
	send := func(app, et string) {
		t.Helper()
		if _, err := c.Message.Create(ctx, app, svix.MessageIn{EventType: et, Payload: map[string]any{}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	send("acme", "a.one") // both acme endpoints: 2 destinations
	send("acme", "b.two") // 1
	send("acme", "c.none")
	send("beta", "c.none") // beta's catch-all: 1
	until := time.Now().Add(time.Second)

	t.Run("app stats", func(t *testing.T) {
		out, err := c.Statistics.AggregateAppStats(ctx, svix.AppUsageStatsIn{Since: since, Until: until}, nil)
		if err != nil || out.Task != models.BACKGROUNDTASKTYPE_APPLICATION_STATS || len(out.UnresolvedAppIds) != 0 {
			t.Fatalf("aggregate app stats = %+v, %v", out, err)
		}
		done := waitTaskSDK(t, c, out.Id)
		got := map[string]float64{}
		for _, s := range done.Data["appStats"].([]any) {
			m := s.(map[string]any)
			got[m["appUid"].(string)] = m["messageDestinations"].(float64)
		}
		if done.Status != models.BACKGROUNDTASKSTATUS_FINISHED || got["acme"] != 3 || got["beta"] != 1 || got["idle"] != 0 || len(got) != 3 {
			t.Fatalf("task = %+v, want acme 3, beta 1, idle 0", done)
		}
		// Named applications only; unknown ones are reported back.
		out, err = c.Statistics.AggregateAppStats(ctx, svix.AppUsageStatsIn{Since: since, Until: until, AppIds: []string{"beta", "nope"}}, nil)
		if err != nil || !slices.Equal(out.UnresolvedAppIds, []string{"nope"}) {
			t.Fatalf("aggregate app stats for beta, nope = %+v, %v", out, err)
		}
		if stats := waitTaskSDK(t, c, out.Id).Data["appStats"].([]any); len(stats) != 1 || stats[0].(map[string]any)["appUid"] != "beta" {
			t.Fatalf("stats for beta = %v", stats)
		}
		// A window before the messages counts none.
		out, err = c.Statistics.AggregateAppStats(ctx, svix.AppUsageStatsIn{Since: since.Add(-time.Hour), Until: since, AppIds: []string{"acme"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if stats := waitTaskSDK(t, c, out.Id).Data["appStats"].([]any); len(stats) != 1 || stats[0].(map[string]any)["messageDestinations"] != 0.0 {
			t.Fatalf("stats of an earlier window = %v", stats)
		}
		_, err = c.Statistics.AggregateAppStats(ctx, svix.AppUsageStatsIn{Since: since, Until: until, AppIds: []string{"nope"}}, nil)
		wantStatus(t, err, http.StatusUnprocessableEntity)
		_, err = c.Statistics.AggregateAppStats(ctx, svix.AppUsageStatsIn{Since: until, Until: since}, nil)
		wantStatus(t, err, http.StatusUnprocessableEntity)
	})
	t.Run("event types", func(t *testing.T) {
		out, err := c.Statistics.AggregateEventTypes(ctx)
		if err != nil || out.Task != models.BACKGROUNDTASKTYPE_EVENT_TYPE_AGGREGATE {
			t.Fatalf("aggregate event types = %+v, %v", out, err)
		}
		done := waitTaskSDK(t, c, out.Id)
		apps := done.Data["event_types"].([]any)
		if done.Status != models.BACKGROUNDTASKSTATUS_FINISHED || len(apps) != 3 {
			t.Fatalf("task = %+v, want 3 applications", done)
		}
		byApp := map[string]map[string]any{}
		for _, a := range apps {
			m := a.(map[string]any)
			byApp[m["appId"].(string)] = m
		}
		acme, err := c.Application.Get(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		beta, err := c.Application.Get(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		if a := byApp[acme.Id]; a["hasCatchAllEndpoint"] != false || len(a["explicitlySubscribedEventTypes"].([]any)) != 2 {
			t.Errorf("acme = %v, want a.one and b.two, no catch-all", a)
		}
		if b := byApp[beta.Id]; b["hasCatchAllEndpoint"] != true || len(b["explicitlySubscribedEventTypes"].([]any)) != 0 {
			t.Errorf("beta = %v, want a catch-all", b)
		}
	})
}

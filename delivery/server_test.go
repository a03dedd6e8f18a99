package delivery_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
)

// TestRoutingThroughAPI runs a whole server in-process and checks that messages
// posted to the API reach exactly the endpoints whose filterTypes and channels
// match, signed.
func TestRoutingThroughAPI(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "hookd.db")
	cfg.AdminToken = crashAdminToken
	cfg.AllowPrivate = true
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	api := hookdtest.API{Client: &http.Client{}, Token: crashAdminToken}
	base := srv.URL()

	var app struct{ ID string }
	if _, err := api.Do(t.Context(), "POST", base+"/api/v1/app", nil, map[string]any{"name": "routing"}, &app); err != nil {
		t.Fatal(err)
	}
	receivers := map[string]*receiver{}
	for name, in := range map[string]map[string]any{
		"all":      {},
		"invoices": {"filterTypes": []string{"invoice.paid"}},
		"eu":       {"channels": []string{"eu"}},
		"eu-users": {"channels": []string{"eu"}, "filterTypes": []string{"user.created"}},
		"disabled": {"disabled": true},
	} {
		rc := newReceiver(t, status(http.StatusOK))
		receivers[name] = rc
		in["url"] = rc.URL
		in["secret"] = testSecret
		if _, err := api.Do(t.Context(), "POST", base+"/api/v1/app/"+app.ID+"/endpoint", nil, in, nil); err != nil {
			t.Fatal(err)
		}
	}
	send := func(eventType string, channels ...string) string {
		var out struct{ ID string }
		if _, err := api.Do(t.Context(), "POST", base+"/api/v1/app/"+app.ID+"/msg", nil, map[string]any{
			"eventType": eventType, "channels": channels, "payload": map[string]string{"t": eventType},
		}, &out); err != nil {
			t.Fatal(err)
		}
		return out.ID
	}
	paid := send("invoice.paid")
	userEU := send("user.created", "eu")
	userUS := send("user.created", "us")
	want := map[string][]string{
		"all":      {paid, userEU, userUS},
		"invoices": {paid},
		"eu":       {userEU},
		"eu-users": {userEU},
		"disabled": nil,
	}
	eventually(t, func() bool {
		for name, ids := range want {
			if len(receivers[name].requests()) < len(ids) {
				return false
			}
		}
		return true
	}, "deliveries to every matching endpoint")
	v := sigVerifier(t, testSecret)
	for name, ids := range want {
		var got []string
		for _, r := range receivers[name].requests() {
			if err := v.Verify(r.header, r.body); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			got = append(got, r.header.Get("Webhook-Id"))
		}
		if strings.Join(sorted(got), ",") != strings.Join(sorted(ids), ",") {
			t.Errorf("%s received %v, want %v", name, got, ids)
		}
	}
}

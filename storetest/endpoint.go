package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

var endpointTests = []test{
	{"CreateAndGetByIDOrUID", func(t *testing.T, f *fixture) {
		a := f.app()
		exp := t0.Add(24 * time.Hour)
		dis := t0.Add(-time.Hour)
		want := f.endpoint(a.ID, func(e *hookd.Endpoint) {
			e.UID, e.Description = "ep-1", "primary"
			e.FilterTypes = []string{"invoice.paid", "invoice.failed"}
			e.Channels = []string{"eu"}
			e.Disabled, e.DisabledAt = true, &dis
			e.RateLimit = 10
			e.Metadata = map[string]string{"team": "billing"}
			e.Headers = map[string]string{"X-Custom": "1"}
			e.Secrets = []hookd.Secret{{Key: "whsec_new"}, {Key: "whsec_old", ExpiresAt: &exp}}
			e.SignatureProfile = "hmac-sha256-hex"
			e.RetrySchedule = "short"
			e.Timeout = 2500 * time.Millisecond
			e.MaxConcurrency = 3
			e.FailingSince = &dis
			e.ClientCert = &hookd.ClientCert{CertPEM: "-----BEGIN CERTIFICATE-----\n", KeyPEM: "-----BEGIN PRIVATE KEY-----\n"}
			e.ServerCA = "-----BEGIN CERTIFICATE-----\nca\n"
			e.OAuth = &hookd.OAuthClient{TokenURL: "https://auth.example/token", ClientID: "hookd",
				ClientSecret: "s3cret", AuthMethod: hookd.OAuthPost, Scopes: []string{"a", "b"}, Audience: "api",
				ExtraParams: map[string]string{"resource": "x"}, ExtraHeaders: map[string]string{"X-Tenant": "1"}}
			e.PayloadFilter = payloadFilter(t, `{"and":[{"path":"data.amount","gt":100},{"path":"/data/currency","in":["EUR","USD"]}]}`)
		})
		for _, key := range []string{want.ID, want.UID} {
			got, err := f.s.Endpoint(f.ctx, a.ID, key)
			must(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Endpoint(%q) =\n%+v, want\n%+v", key, got, want)
			}
		}
	}},
	{"NotFound", func(t *testing.T, f *fixture) {
		a := f.app()
		_, err := f.s.Endpoint(f.ctx, a.ID, "ep_missing")
		wantCode(t, err, hookd.ENOTFOUND)
		if msg := hookd.ErrorMessage(err); msg != "endpoint not found" {
			t.Errorf("message = %q, want %q", msg, "endpoint not found")
		}
		wantCode(t, f.s.UpdateEndpoint(f.ctx, &hookd.Endpoint{ID: "ep_missing", AppID: a.ID, URL: "https://x"}), hookd.ENOTFOUND)
		wantCode(t, f.s.DeleteEndpoint(f.ctx, a.ID, "ep_missing"), hookd.ENOTFOUND)
		_, err = f.s.EndpointStats(f.ctx, a.ID, "ep_missing", "", "")
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"DisableEndpoint", func(t *testing.T, f *fixture) {
		a := f.app()
		ep := f.endpoint(a.ID)
		// An update made after the caller read the endpoint must survive the disable.
		upd := *ep
		upd.URL, upd.Secrets = "https://changed.example/hook", []hookd.Secret{{Key: "whsec_rotated"}}
		upd.ClientCert, upd.ServerCA = &hookd.ClientCert{CertPEM: "cert", KeyPEM: "key"}, "ca"
		upd.OAuth = &hookd.OAuthClient{TokenURL: "https://auth.example/token", ClientID: "c"}
		must(t, f.s.UpdateEndpoint(f.ctx, &upd))
		at := t0.Add(time.Hour)
		ok, err := f.s.DisableEndpoint(f.ctx, a.ID, ep.ID, at)
		must(t, err)
		if !ok {
			t.Fatal("DisableEndpoint = false for an enabled endpoint, want true")
		}
		got, err := f.s.Endpoint(f.ctx, a.ID, ep.ID)
		must(t, err)
		if !got.Disabled || got.DisabledAt == nil || !got.DisabledAt.Equal(at) || !got.UpdatedAt.Equal(at) {
			t.Errorf("after disable: disabled %v at %v, updated %v; want disabled at %v", got.Disabled, got.DisabledAt, got.UpdatedAt, at)
		}
		if got.URL != upd.URL || len(got.Secrets) != 1 || got.Secrets[0].Key != "whsec_rotated" {
			t.Errorf("disable undid an update: url %q secrets %+v", got.URL, got.Secrets)
		}
		if !reflect.DeepEqual(got.ClientCert, upd.ClientCert) || got.ServerCA != "ca" || !reflect.DeepEqual(got.OAuth, upd.OAuth) {
			t.Errorf("update lost the TLS or OAuth settings: %+v %q %+v", got.ClientCert, got.ServerCA, got.OAuth)
		}
		// A second disable (another node, say) reports that it changed nothing.
		ok, err = f.s.DisableEndpoint(f.ctx, a.ID, ep.ID, at.Add(time.Minute))
		must(t, err)
		if ok {
			t.Error("DisableEndpoint = true for a disabled endpoint, want false")
		}
		if got, _ := f.s.Endpoint(f.ctx, a.ID, ep.ID); got.DisabledAt == nil || !got.DisabledAt.Equal(at) {
			t.Errorf("second disable moved DisabledAt to %v, want %v", got.DisabledAt, at)
		}
		_, err = f.s.DisableEndpoint(f.ctx, a.ID, "ep_missing", at)
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = f.s.DisableEndpoint(f.ctx, f.app().ID, ep.ID, at) // another app's endpoint
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"UIDUniquePerApp", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		f.endpoint(a.ID, func(e *hookd.Endpoint) { e.UID = "same" })
		f.endpoint(b.ID, func(e *hookd.Endpoint) { e.UID = "same" }) // other app: fine
		f.endpoint(a.ID)                                             // no UID: fine
		dup := &hookd.Endpoint{ID: f.id(hookd.PrefixEndpoint), AppID: a.ID, UID: "same", URL: "https://x", CreatedAt: f.now, UpdatedAt: f.now}
		wantCode(t, f.s.CreateEndpoint(f.ctx, dup), hookd.ECONFLICT)
		other := f.endpoint(a.ID, func(e *hookd.Endpoint) { e.UID = "other" })
		other.UID = "same"
		wantCode(t, f.s.UpdateEndpoint(f.ctx, other), hookd.ECONFLICT)
	}},
	{"Update", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID, func(e *hookd.Endpoint) { e.UID = "x"; e.Channels = []string{"a"} })
		upd := *e
		now := t0.Add(time.Hour)
		upd.UID, upd.URL, upd.Description = "", "https://example.org/new", "changed"
		upd.FilterTypes, upd.Channels = []string{"a.b"}, nil
		upd.Disabled, upd.DisabledAt = true, &now
		upd.Headers = map[string]string{"A": "b"}
		upd.Secrets = []hookd.Secret{{Key: "whsec_2"}, {Key: "whsec_1", ExpiresAt: &now}}
		upd.Timeout, upd.FailingSince, upd.UpdatedAt = time.Second, &now, now
		upd.PayloadFilter = payloadFilter(t, `{"not":{"path":"test","eq":true}}`)
		must(t, f.s.UpdateEndpoint(f.ctx, &upd))
		got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if !reflect.DeepEqual(got, &upd) {
			t.Errorf("after update =\n%+v, want\n%+v", got, &upd)
		}
		// FailingSince is a mutable field too: re-enabling clears it. A nil payload
		// filter clears the filter.
		upd.Disabled, upd.DisabledAt, upd.FailingSince, upd.PayloadFilter = false, nil, nil, nil
		must(t, f.s.UpdateEndpoint(f.ctx, &upd))
		got, err = f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if got.FailingSince != nil || got.Disabled || got.DisabledAt != nil || got.PayloadFilter != nil {
			t.Errorf("after re-enable = %+v", got)
		}
	}},
	{"TenantIsolation", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		e := f.endpoint(a.ID, func(e *hookd.Endpoint) { e.UID = "mine" })
		for _, key := range []string{e.ID, e.UID} {
			_, err := f.s.Endpoint(f.ctx, b.ID, key)
			wantCode(t, err, hookd.ENOTFOUND)
		}
		upd := *e
		upd.AppID, upd.URL = b.ID, "https://evil.example"
		wantCode(t, f.s.UpdateEndpoint(f.ctx, &upd), hookd.ENOTFOUND)
		wantCode(t, f.s.DeleteEndpoint(f.ctx, b.ID, e.ID), hookd.ENOTFOUND)
		_, err := f.s.EndpointStats(f.ctx, b.ID, e.ID, "", "")
		wantCode(t, err, hookd.ENOTFOUND)
		l, err := f.s.Endpoints(f.ctx, b.ID, hookd.Page{Limit: 10})
		must(t, err)
		all, err := f.s.AllEndpoints(f.ctx, b.ID)
		must(t, err)
		if len(l) != 0 || len(all) != 0 {
			t.Errorf("app B sees %d/%d endpoints of app A", len(l), len(all))
		}
		got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if got.URL != e.URL {
			t.Errorf("URL changed through another app: %q", got.URL)
		}
	}},
	{"ListPaginationAndAll", func(t *testing.T, f *fixture) {
		a, b := f.app(), f.app()
		var want []string
		for i := range 5 {
			want = append(want, f.endpoint(a.ID).ID)
			if i%2 == 0 {
				f.endpoint(b.ID)
			}
		}
		checkPaging(t, want, func(p hookd.Page) ([]string, error) {
			l, err := f.s.Endpoints(f.ctx, a.ID, p)
			return ids(l, endpointID), err
		})
		all, err := f.s.AllEndpoints(f.ctx, a.ID)
		must(t, err)
		got := ids(all, endpointID)
		if len(got) != len(want) {
			t.Fatalf("AllEndpoints = %v, want %v in any order", got, want)
		}
		for _, id := range want {
			found := false
			for _, g := range got {
				found = found || g == id
			}
			if !found {
				t.Errorf("AllEndpoints misses %s", id)
			}
		}
	}},
	{"CreateInMissingApp", func(t *testing.T, f *fixture) {
		e := &hookd.Endpoint{ID: f.id(hookd.PrefixEndpoint), AppID: "app_missing", URL: "https://x", CreatedAt: f.now, UpdatedAt: f.now}
		wantCode(t, f.s.CreateEndpoint(f.ctx, e), hookd.ENOTFOUND)
	}},
	{"DeleteRemovesPendingDeliveries", func(t *testing.T, f *fixture) {
		a := f.app()
		e1, e2 := f.endpoint(a.ID), f.endpoint(a.ID)
		m, _ := f.message(a.ID, []*hookd.Endpoint{e1, e2})
		must(t, f.s.DeleteEndpoint(f.ctx, a.ID, e1.ID))
		if _, err := f.s.Endpoint(f.ctx, a.ID, e1.ID); hookd.ErrorCode(err) != hookd.ENOTFOUND {
			t.Errorf("Endpoint after delete: %v", err)
		}
		claimed, err := f.s.ClaimDeliveries(f.ctx, f.now.Add(time.Second), time.Minute, 10)
		must(t, err)
		if len(claimed) != 1 || claimed[0].EndpointID != e2.ID {
			t.Fatalf("claimed %v, want only the delivery to the remaining endpoint", ids(claimed, deliveryID))
		}
		ds, err := f.s.MessageDeliveries(f.ctx, a.ID, m.ID, hookd.Page{Limit: 10, Ascending: true})
		must(t, err)
		for _, d := range ds {
			if d.EndpointID == e1.ID && (d.Status == hookd.StatusPending || d.Status == hookd.StatusSending) {
				t.Errorf("pending delivery to the deleted endpoint remains: %+v", d)
			}
		}
	}},
	{"Stats", func(t *testing.T, f *fixture) {
		a := f.app()
		e, other := f.endpoint(a.ID), f.endpoint(a.ID)
		var msgs []*hookd.Message
		for range 4 {
			m, _ := f.message(a.ID, []*hookd.Endpoint{e, other})
			msgs = append(msgs, m)
		}
		f.now = f.now.Add(time.Second)
		claimed, err := f.s.ClaimDeliveries(f.ctx, f.now, time.Minute, 3)
		must(t, err)
		// The three oldest: message 1 to e and other, message 2 to e (or other).
		var results []hookd.AttemptResult
		for i, d := range claimed {
			if i == 0 {
				results = append(results, f.result(d, hookd.StatusSuccess, 200))
				continue
			}
			r := f.result(d, hookd.StatusFail, 500)
			if i == 1 {
				r.Status = hookd.StatusFail // exhausted
			}
			results = append(results, r)
		}
		must(t, f.s.RecordAttempts(f.ctx, results))
		var want, total hookd.EndpointStats
		for i, d := range claimed {
			if d.EndpointID != e.ID {
				continue
			}
			switch i {
			case 0:
				want.Success++
			case 1:
				want.Fail++
			default:
				want.Pending++
			}
		}
		want.Pending += 4 - want.Success - want.Fail - want.Pending
		got, err := f.s.EndpointStats(f.ctx, a.ID, e.ID, "", "")
		must(t, err)
		if got != want {
			t.Errorf("EndpointStats = %+v, want %+v", got, want)
		}
		// A window of message IDs: the last two messages are unclaimed, so pending;
		// the first two hold the claimed deliveries.
		got, err = f.s.EndpointStats(f.ctx, a.ID, e.ID, msgs[2].ID, "")
		must(t, err)
		if late := (hookd.EndpointStats{Pending: 2}); got != late {
			t.Errorf("EndpointStats from message 3 = %+v, want %+v", got, late)
		}
		got, err = f.s.EndpointStats(f.ctx, a.ID, e.ID, "", msgs[2].ID)
		must(t, err)
		if early := (hookd.EndpointStats{Success: want.Success, Fail: want.Fail, Pending: want.Pending - 2}); got != early {
			t.Errorf("EndpointStats until message 3 = %+v, want %+v", got, early)
		}
		got, err = f.s.EndpointStats(f.ctx, a.ID, e.ID, msgs[1].ID, msgs[2].ID)
		must(t, err)
		if got.Success+got.Fail+got.Pending+got.Sending != 1 {
			t.Errorf("EndpointStats of message 2 = %+v, want one delivery", got)
		}
		total = hookd.EndpointStats{Success: 1, Fail: 1, Pending: 6}
		counts, err := f.s.DeliveryCounts(f.ctx)
		must(t, err)
		if counts != total {
			t.Errorf("DeliveryCounts = %+v, want %+v", counts, total)
		}
	}},
}

// secretTests hold what encryption at rest needs of a store.
var secretTests = []test{
	{"SwapOnlyIfUnchanged", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID, func(e *hookd.Endpoint) { e.Headers = map[string]string{"Authorization": "Bearer x"} })
		got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		next := *got
		next.Secrets = []hookd.Secret{{Key: "sealed-1"}}
		next.Headers = map[string]string{"Authorization": "sealed-2"}
		next.URL = "https://example.com/not-written"
		ok, err := f.s.SwapEndpointSecrets(f.ctx, got, &next)
		must(t, err)
		if !ok {
			t.Fatal("swap from the stored values did not happen")
		}
		after, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if after.Secrets[0].Key != "sealed-1" || after.Headers["Authorization"] != "sealed-2" || after.URL != e.URL {
			t.Fatalf("after swap: secrets %v headers %v url %s", after.Secrets, after.Headers, after.URL)
		}
		// A second swap from the old values finds them changed and writes nothing.
		stale := next
		stale.Secrets = []hookd.Secret{{Key: "sealed-3"}}
		ok, err = f.s.SwapEndpointSecrets(f.ctx, got, &stale)
		must(t, err)
		if ok {
			t.Fatal("swap from values no longer stored happened")
		}
		// No headers at all compare equal too.
		plain := f.endpoint(a.ID)
		p, err := f.s.Endpoint(f.ctx, a.ID, plain.ID)
		must(t, err)
		n := *p
		n.Secrets = []hookd.Secret{{Key: "sealed-4"}}
		ok, err = f.s.SwapEndpointSecrets(f.ctx, p, &n)
		must(t, err)
		if !ok {
			t.Fatal("swap on an endpoint without headers did not happen")
		}
	}},
	{"SwapClientKeyAndOAuthSecret", func(t *testing.T, f *fixture) {
		a := f.app()
		e := f.endpoint(a.ID, func(e *hookd.Endpoint) {
			e.ClientCert = &hookd.ClientCert{CertPEM: "cert", KeyPEM: "plain-key"}
			e.OAuth = &hookd.OAuthClient{TokenURL: "https://auth.example/token", ClientID: "c", ClientSecret: "plain-secret"}
		})
		got, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		next := *got
		next.ClientCert = &hookd.ClientCert{CertPEM: "cert", KeyPEM: "sealed-key"}
		next.OAuth = &hookd.OAuthClient{TokenURL: "https://auth.example/token", ClientID: "c", ClientSecret: "sealed-secret"}
		ok, err := f.s.SwapEndpointSecrets(f.ctx, got, &next)
		must(t, err)
		if !ok {
			t.Fatal("swap from the stored values did not happen")
		}
		after, err := f.s.Endpoint(f.ctx, a.ID, e.ID)
		must(t, err)
		if after.ClientCert.KeyPEM != "sealed-key" || after.OAuth.ClientSecret != "sealed-secret" {
			t.Fatalf("after swap: client cert %+v oauth %+v", after.ClientCert, after.OAuth)
		}
		// A key changed meanwhile (a new PUT …/mtls) is not undone.
		stale := next
		stale.ClientCert = &hookd.ClientCert{CertPEM: "cert", KeyPEM: "sealed-again"}
		if ok, err := f.s.SwapEndpointSecrets(f.ctx, got, &stale); err != nil || ok {
			t.Fatalf("swap from a client key no longer stored = %v, %v; want false", ok, err)
		}
	}},
}

// payloadFilter parses a payload filter the test needs.
func payloadFilter(t *testing.T, src string) *hookd.PayloadFilter {
	t.Helper()
	f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(src))
	must(t, err)
	return f
}

package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/webhook"
	svix "github.com/svix/svix-webhooks/go"
)

// capture keeps every request a receiver got, by path, and signals each arrival.
type capture struct {
	mu   sync.Mutex
	reqs map[string][]received
	got  chan string
}

func newCapture(t *testing.T) (*capture, *httptest.Server) {
	c := &capture{reqs: map[string][]received{}, got: make(chan string, 1024)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs[r.URL.Path] = append(c.reqs[r.URL.Path], received{header: r.Header.Clone(), body: b})
		c.mu.Unlock()
		c.got <- r.URL.Path
	}))
	t.Cleanup(srv.Close)
	return c, srv
}

// next waits, within a bound, for the n-th request to path and returns it.
func (c *capture) next(t *testing.T, path string, n int) received {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.reqs[path]) >= n {
			r := c.reqs[path][n-1]
			c.mu.Unlock()
			return r
		}
		c.mu.Unlock()
		select {
		case <-c.got:
		case <-timeout:
			t.Fatalf("request %d to %s did not arrive", n, path)
		}
	}
}

// outsideVerify checks a request with a verifier hookd's server does not use to sign:
// the webhook package's verifier built from the key the API hands out, and for the
// Standard Webhooks profiles the Svix SDK's own verifier too.
func outsideVerify(t *testing.T, profile, key string, r received) error {
	t.Helper()
	p, err := webhook.LookupProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier(p, []string{key}, webhook.WithoutTimestampCheck())
	if err != nil {
		t.Fatalf("verifier for %s: %v", profile, err)
	}
	err = v.Verify(r.header, r.body)
	if profile == "standard" || profile == "svix" {
		wh, e := svix.NewWebhook(key)
		if e != nil {
			t.Fatal(e)
		}
		h := r.header.Clone()
		if profile == "standard" { // the SDK reads svix-* or webhook-* headers
			for _, n := range []string{"Id", "Timestamp", "Signature"} {
				h.Set("Svix-"+n, h.Get("Webhook-"+n))
			}
		}
		if sdkErr := wh.VerifyIgnoringTimestamp(r.body, h); (sdkErr == nil) != (err == nil) {
			t.Errorf("%s: the Svix SDK says %v, the webhook package %v", profile, sdkErr, err)
		}
	}
	return err
}

// TestRotationWithOutsideVerifiers rotates the secret of an endpoint of every
// profile and checks, with outside verifiers, the very next delivery and one after
// the grace period: right after the rotation it verifies with the old key; on
// profiles that carry several signatures with the new key too, on those that carry
// one not yet (the API shows the pending switch and its time); after the grace only
// the new key verifies.
func TestRotationWithOutsideVerifiers(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	now := func() time.Time { return *clock.Load() }
	ts := startServer(t, func(c *server.Config) { c.Now = now })
	rcv, rsrv := newCapture(t)
	var app struct{ ID string }
	code, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"rotation"}`)
	if code != 201 || json.Unmarshal(b, &app) != nil {
		t.Fatalf("create app: %d %s", code, b)
	}
	type secretOut struct {
		Key      string
		NextKey  string
		SwitchAt *time.Time
	}
	getSecret := func(ep string) secretOut {
		var s secretOut
		code, b := ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/endpoint/"+ep+"/secret", "")
		if code != 200 || json.Unmarshal(b, &s) != nil {
			t.Fatalf("get secret: %d %s", code, b)
		}
		return s
	}
	send := func() {
		if code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/msg", `{"eventType":"rotation.test","payload":{"n":1}}`); code != 202 {
			t.Fatalf("send: %d %s", code, b)
		}
	}
	const grace = 60 * time.Second
	multi := map[string]bool{"standard": true, "standard-ed25519": true, "svix": true, "svix-ed25519": true, "stripe": true}
	eps := map[string]string{}
	old := map[string]string{}
	for _, profile := range webhook.ProfileNames() {
		var ep struct{ ID string }
		code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"`+rsrv.URL+"/"+profile+`","signatureProfile":"`+profile+`"}`)
		if code != 201 || json.Unmarshal(b, &ep) != nil {
			t.Fatalf("create %s endpoint: %d %s", profile, code, b)
		}
		eps[profile] = ep.ID
		old[profile] = getSecret(ep.ID).Key
		if p, _ := webhook.LookupProfile(profile); p.MultiSignature != multi[profile] {
			t.Fatalf("%s: MultiSignature %v; the table here says %v", profile, p.MultiSignature, multi[profile])
		}
	}
	send()
	for profile := range eps {
		if err := outsideVerify(t, profile, old[profile], rcv.next(t, "/"+profile, 1)); err != nil {
			t.Fatalf("%s before the rotation: %v", profile, err)
		}
	}

	rotatedAt := now()
	newKey := map[string]string{}
	for profile, id := range eps {
		if code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint/"+id+"/secret/rotate", `{"gracePeriodSeconds":60}`); code != 204 {
			t.Fatalf("rotate %s: %d %s", profile, code, b)
		}
		s := getSecret(id)
		switch {
		case multi[profile]:
			if s.Key == old[profile] || s.NextKey != "" {
				t.Fatalf("%s after rotation: %+v", profile, s)
			}
			newKey[profile] = s.Key
		default:
			if s.Key != old[profile] || s.NextKey == "" || s.SwitchAt == nil || !s.SwitchAt.Equal(rotatedAt.Add(grace).UTC().Truncate(time.Microsecond)) {
				t.Fatalf("%s after rotation: %+v; want the old key, the next key and the switch at %v", profile, s, rotatedAt.Add(grace))
			}
			newKey[profile] = s.NextKey
		}
	}
	send() // the very next delivery
	for profile := range eps {
		r := rcv.next(t, "/"+profile, 2)
		if err := outsideVerify(t, profile, old[profile], r); err != nil {
			t.Errorf("%s right after the rotation, old key: %v", profile, err)
		}
		err := outsideVerify(t, profile, newKey[profile], r)
		switch {
		case multi[profile] && err != nil:
			t.Errorf("%s right after the rotation, new key: %v", profile, err)
		case !multi[profile] && err == nil:
			t.Errorf("%s right after the rotation verifies with the new key: the switch came early", profile)
		}
	}

	after := rotatedAt.Add(grace + time.Second)
	clock.Store(&after)
	send()
	for profile, id := range eps {
		r := rcv.next(t, "/"+profile, 3)
		if err := outsideVerify(t, profile, newKey[profile], r); err != nil {
			t.Errorf("%s after the grace, new key: %v", profile, err)
		}
		if err := outsideVerify(t, profile, old[profile], r); err == nil {
			t.Errorf("%s after the grace still verifies with the old key", profile)
		}
		if s := getSecret(id); s.Key != newKey[profile] || s.NextKey != "" {
			t.Errorf("%s secret after the grace: %+v", profile, s)
		}
	}
}

// TestRotationWithoutGraceSwitchesAtOnce rotates a one-signature endpoint with a grace
// of zero: the next delivery is signed with the new key only.
func TestRotationWithoutGraceSwitchesAtOnce(t *testing.T) {
	ts := startServer(t)
	rcv, rsrv := newCapture(t)
	var app, ep struct{ ID string }
	_, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"zero"}`)
	_ = json.Unmarshal(b, &app)
	_, b = ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"`+rsrv.URL+`/gh","signatureProfile":"github"}`)
	_ = json.Unmarshal(b, &ep)
	var before, after struct{ Key, NextKey string }
	_, b = ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID+"/secret", "")
	_ = json.Unmarshal(b, &before)
	if code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID+"/secret/rotate", `{"gracePeriodSeconds":0}`); code != 204 {
		t.Fatalf("rotate: %d %s", code, b)
	}
	_, b = ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID+"/secret", "")
	_ = json.Unmarshal(b, &after)
	if after.Key == before.Key || after.NextKey != "" {
		t.Fatalf("secret after a rotation without grace: %+v (before %+v)", after, before)
	}
	ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/msg", `{"eventType":"x","payload":{}}`)
	r := rcv.next(t, "/gh", 1)
	if err := outsideVerify(t, "github", after.Key, r); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if err := outsideVerify(t, "github", before.Key, r); err == nil {
		t.Fatal("the old key still verifies")
	}
}

package hookd_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestEndpointMatches(t *testing.T) {
	tests := []struct {
		name      string
		ep        hookd.Endpoint
		eventType string
		channels  []string
		want      bool
	}{
		{"no filters", hookd.Endpoint{}, "invoice.paid", nil, true},
		{"disabled", hookd.Endpoint{Disabled: true}, "invoice.paid", nil, false},
		{"type listed", hookd.Endpoint{FilterTypes: []string{"a", "invoice.paid"}}, "invoice.paid", nil, true},
		{"type not listed", hookd.Endpoint{FilterTypes: []string{"a"}}, "invoice.paid", nil, false},
		{"channel shared", hookd.Endpoint{Channels: []string{"eu", "us"}}, "x", []string{"us"}, true},
		{"channel not shared", hookd.Endpoint{Channels: []string{"eu"}}, "x", []string{"us"}, false},
		{"endpoint wants a channel, message has none", hookd.Endpoint{Channels: []string{"eu"}}, "x", nil, false},
		{"message channel, endpoint takes all", hookd.Endpoint{}, "x", []string{"us"}, true},
		{"both filters pass", hookd.Endpoint{FilterTypes: []string{"x"}, Channels: []string{"eu"}}, "x", []string{"eu"}, true},
		{"type passes, channel fails", hookd.Endpoint{FilterTypes: []string{"x"}, Channels: []string{"eu"}}, "x", []string{"us"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ep.Matches(tt.eventType, tt.channels); got != tt.want {
				t.Fatalf("Matches(%q, %v) = %v, want %v", tt.eventType, tt.channels, got, tt.want)
			}
		})
	}
}

func TestEndpointSigningKeys(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	earlier := now.Add(-time.Second)
	ep := hookd.Endpoint{Secrets: []hookd.Secret{
		{Key: "whsec_new"},
		{Key: "whsec_grace", ExpiresAt: &later},
		{Key: "whsec_expired", ExpiresAt: &earlier},
	}}
	want := []string{"whsec_new", "whsec_grace"}
	if got := ep.SigningKeys(now); !reflect.DeepEqual(got, want) {
		t.Fatalf("SigningKeys = %v, want %v", got, want)
	}
	if got := ep.SigningKeys(later); !reflect.DeepEqual(got, []string{"whsec_new"}) {
		t.Fatalf("SigningKeys after grace = %v, want only the current key", got)
	}
}

func TestRotateSecret(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	grace := time.Hour
	tests := []struct {
		name  string
		multi bool
		grace time.Duration
		// keys signing at: right after the rotation, just before the grace ends, after it
		now, before, after []string
		pending            bool
	}{
		{"several signatures", true, grace, []string{"new", "old"}, []string{"new", "old"}, []string{"new"}, false},
		{"several signatures, no grace", true, 0, []string{"new"}, []string{"new"}, []string{"new"}, false},
		{"one signature", false, grace, []string{"old"}, []string{"old"}, []string{"new"}, true},
		{"one signature, no grace", false, 0, []string{"new"}, []string{"new"}, []string{"new"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &hookd.Endpoint{Secrets: []hookd.Secret{{Key: "old"}}}
			e.RotateSecret("new", t0, tt.grace, tt.multi)
			for _, c := range []struct {
				at   time.Time
				want []string
			}{{t0, tt.now}, {t0.Add(grace - time.Nanosecond), tt.before}, {t0.Add(grace), tt.after}} {
				if got := e.SigningKeys(c.at); !slices.Equal(got, c.want) {
					t.Errorf("at %v: signing %v, want %v", c.at.Sub(t0), got, c.want)
				}
			}
			p := e.PendingSecret(t0)
			if (p != nil) != tt.pending || (p != nil && (p.Key != "new" || !p.NotBefore.Equal(t0.Add(grace)))) {
				t.Errorf("PendingSecret = %+v", p)
			}
		})
	}
	// Rotating again during a pending switch: the key signing now keeps signing, the
	// pending one (which never signed) is dropped.
	e := &hookd.Endpoint{Secrets: []hookd.Secret{{Key: "old"}}}
	e.RotateSecret("new", t0, grace, false)
	e.RotateSecret("newer", t0.Add(time.Minute), grace, false)
	if got := e.SigningKeys(t0.Add(2 * time.Minute)); !slices.Equal(got, []string{"old"}) {
		t.Errorf("after a second rotation: signing %v", got)
	}
	if got := e.SigningKeys(t0.Add(time.Minute + grace)); !slices.Equal(got, []string{"newer"}) {
		t.Errorf("after the second grace: signing %v", got)
	}
	if len(e.Secrets) != 2 {
		t.Errorf("secrets %v: the never-used key should be gone", e.Secrets)
	}
}

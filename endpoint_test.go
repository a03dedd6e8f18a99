package hookd_test

import (
	"reflect"
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

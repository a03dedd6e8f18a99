package hookd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestParseEndpointURL(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" for valid, else a part of the message
	}{
		{"https://example.com/hook?x=1", ""},
		{"http://127.0.0.1:8080/", ""},
		{"", "must not be empty"},
		{"https://" + strings.Repeat("a", hookd.MaxEndpointURLBytes), "too long"},
		{"https://exa mple.com/", "not a valid URL"},
		{"ftp://example.com/", "http or https"},
		{"/relative", "http or https"},
		{"https:///path", "must have a host"},
		{"https://:80/", "must have a host"},
		{"https://user:pass@example.com/", "credentials"},
		{"https://user@example.com/", "credentials"},
	}
	for _, tt := range tests {
		u, err := hookd.ParseEndpointURL(tt.raw)
		switch {
		case tt.want == "" && (err != nil || u == nil):
			t.Errorf("ParseEndpointURL(%.40q) = %v, want valid", tt.raw, err)
		case tt.want != "" && (hookd.ErrorCode(err) != hookd.EINVALID || !strings.Contains(hookd.ErrorMessage(err), tt.want)):
			t.Errorf("ParseEndpointURL(%.40q) error = %v, want a validation error saying %q", tt.raw, err, tt.want)
		}
	}
}

func TestEndpointSetDisabled(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	failing := t0.Add(-time.Hour)
	e := &hookd.Endpoint{FailingSince: &failing}
	e.SetDisabled(true, t0)
	if !e.Disabled || e.DisabledAt == nil || !e.DisabledAt.Equal(t0) || e.FailingSince == nil {
		t.Fatalf("disabled: %+v, want DisabledAt now and FailingSince kept", e)
	}
	e.SetDisabled(true, t0.Add(time.Minute))
	if !e.DisabledAt.Equal(t0) {
		t.Errorf("disabling again moved DisabledAt to %v", e.DisabledAt)
	}
	e.SetDisabled(false, t0.Add(2*time.Minute))
	if e.Disabled || e.FailingSince != nil {
		t.Errorf("enabled: %+v, want FailingSince cleared", e)
	}
}

func TestEndpointSetters(t *testing.T) {
	var e hookd.Endpoint
	if err := e.SetChannels(make([]string, hookd.MaxEndpointChannels+1)); hookd.ErrorCode(err) != hookd.EINVALID {
		t.Errorf("too many channels: %v", err)
	}
	if err := e.SetChannels([]string{}); err != nil || e.Channels != nil {
		t.Errorf("empty channels: %v, %v", err, e.Channels)
	}
	if err := e.SetTimeoutMs(hookd.MaxEndpointTimeout.Milliseconds() + 1); hookd.ErrorCode(err) != hookd.EINVALID {
		t.Errorf("timeout too long: %v", err)
	}
	if err := e.SetTimeoutMs(1500); err != nil || e.Timeout != 1500*time.Millisecond {
		t.Errorf("timeout 1500 ms: %v, %v", err, e.Timeout)
	}
	if err := e.SetRateLimit(65536); hookd.ErrorCode(err) != hookd.EINVALID {
		t.Errorf("rate limit 65536: %v", err)
	}
	uid := hookd.IDGen{}.New(hookd.PrefixEndpoint)
	if err := e.SetUID(&uid); hookd.ErrorCode(err) != hookd.EINVALID {
		t.Errorf("uid that looks like an ID: %v", err)
	}
}

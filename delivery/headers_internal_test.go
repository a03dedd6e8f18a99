package delivery

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

// TestAttemptHeadersRedactAndCap checks what the attempt log keeps of headers: custom
// header and Authorization values redacted (whatever their case), bytes a store cannot
// hold replaced, and each side cut at the cap (by default hookd.MaxAttemptHeaderBytes).
func TestAttemptHeadersRedactAndCap(t *testing.T) {
	info := &endpointInfo{ep: &hookd.Endpoint{Headers: map[string]string{"X-Api-Key": "secret"}}}
	h := http.Header{}
	h.Set("x-api-key", "secret")
	h.Set("Authorization", "Bearer tok")
	h.Set("Webhook-Signature", "v1,abc")
	h.Set("X-Odd", "a\x00b\xff")
	h.Set("X-Big", strings.Repeat("v", hookd.MaxAttemptHeaderBytes))
	got := sentHeaders(info, visitHeader(h), hookd.MaxAttemptHeaderBytes)
	if got.Sent["X-Api-Key"] != hookd.RedactedValue || got.Sent["Authorization"] != hookd.RedactedValue {
		t.Errorf("sent = %q, want the key and Authorization redacted", got.Sent)
	}
	if len(got.Sensitive) != 2 {
		t.Errorf("sensitive = %q, want Authorization and X-Api-Key", got.Sensitive)
	}
	if got.Sent["Webhook-Signature"] != "v1,abc" || got.Sent["X-Odd"] != "a\uFFFDb\uFFFD" {
		t.Errorf("sent = %q", got.Sent)
	}
	if _, ok := got.Sent["X-Big"]; ok {
		t.Error("a header past the cap was kept")
	}
	resp := responseHeaders(visitHeader(http.Header{"A": {"1", "2"}, "B": {strings.Repeat("x", hookd.MaxAttemptHeaderBytes)}}), hookd.MaxAttemptHeaderBytes)
	if len(resp) != 2 || resp[0] != [2]string{"A", "1"} || resp[1] != [2]string{"A", "2"} {
		t.Errorf("response = %q, want both A values and not B", resp)
	}
	// A configured cap (--attempt-headers-cap) cuts each side at it.
	small := sentHeaders(info, visitHeader(http.Header{"A": {"12345"}, "B": {strings.Repeat("x", 60)}}), 64)
	if len(small.Sent) != 1 || small.Sent["A"] != "12345" {
		t.Errorf("sent with a 64-byte cap = %q, want A only", small.Sent)
	}
	if resp := responseHeaders(visitHeader(http.Header{"A": {"12345"}, "B": {strings.Repeat("x", 60)}}), 64); len(resp) != 1 {
		t.Errorf("response with a 64-byte cap = %q, want A only", resp)
	}
}

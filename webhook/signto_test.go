package webhook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// headerMap is a header set that is not an http.Header, as another HTTP client
// library's request headers would be: SignTo must reach it through Set alone.
type headerMap map[string]string

func (m headerMap) Set(key, value string) { m[key] = value }

// TestSignToMatchesSign signs the same message with Sign and with SignTo, for every
// profile, and checks that SignTo set the same three headers to the same values.
func TestSignToMatchesSign(t *testing.T) {
	body := []byte(`{"type":"invoice.paid"}`)
	ts := time.Unix(kaTimestamp, 0)
	for _, name := range webhook.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			s := mustSigner(t, mustProfile(t, name), kaSecretFor(name))
			want := http.Header{}
			s.Sign(want, kaID, ts, body)
			got := headerMap{}
			s.SignTo(got, kaID, ts, body)
			if len(got) != len(want) {
				t.Fatalf("SignTo set %d headers %v, Sign set %d %v", len(got), got, len(want), want)
			}
			for k, v := range got {
				if w := want.Get(k); w != v {
					t.Errorf("header %s = %q, Sign gave %q", k, v, w)
				}
			}
		})
	}
}

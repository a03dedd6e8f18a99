package api_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hookd/hookd"
)

// FuzzPayloadFilter feeds the payload filter parser untrusted text and a payload: it
// must either refuse the filter with a located 422 or accept one whose compact form
// parses back to itself, and evaluating it must not fail, whatever the payload.
func FuzzPayloadFilter(f *testing.F) {
	seeds := []struct{ filter, payload string }{
		{`{"path":"data.amount","gt":100}`, `{"data":{"amount":250}}`},
		{`{"and":[{"path":"data.amount","gt":100},{"path":"data.currency","in":["EUR","USD"]}]}`, `{"data":{"amount":101,"currency":"EUR"}}`},
		{`{"or":[{"path":"/a~1b/0","eq":{"x":[1,2]}},{"not":{"path":"c","exists":false}}]}`, `{"a/b":[{"x":[1,2.0]}],"c":null}`},
		{`{"path":"n","lte":-1e400}`, `{"n":1e400}`},
		{`{"path":"s","gte":"é"}`, `{"s":"\u00e9"}`},
		{`{"path":"big","lt":123456789012345678901234567890}`, `{"big":-123456789012345678901234567890}`},
		{`{"not":{"not":{"not":{"path":"a","ne":null}}}}`, `[]`},
		{`{"path":"a","eq":1,"ne":2}`, `{}`},
		{`{"and":[]}`, `{}`},
		{`{"path":"a..b","exists":true}`, `{}`},
		{`[`, `{`},
	}
	for _, s := range seeds {
		f.Add([]byte(s.filter), []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, filter, payload []byte) {
		pf, err := hookd.ParsePayloadFilter("payloadFilter", filter)
		if err != nil {
			var fe *hookd.FilterError
			if hookd.ErrorCode(err) != hookd.EINVALID || !errors.As(err, &fe) || hookd.ErrorMessage(err) == "" {
				t.Fatalf("ParsePayloadFilter(%q) = %v: want an EINVALID with a *FilterError", filter, err)
			}
			return
		}
		src := pf.String()
		if !json.Valid([]byte(src)) || len(src) > hookd.MaxPayloadFilterBytes {
			t.Fatalf("compact form %q of %q is not valid JSON within the limit", src, filter)
		}
		again, err := hookd.ParsePayloadFilter("payloadFilter", []byte(src))
		if err != nil || again.String() != src {
			t.Fatalf("compact form %q does not parse back to itself: %v", src, err)
		}
		m := pf.Match(payload)
		if m != again.Match(payload) {
			t.Fatalf("%q and its compact form disagree on %q", filter, payload)
		}
		if !json.Valid(payload) && m {
			t.Fatalf("%q matched %q, which is not JSON", filter, payload)
		}
	})
}

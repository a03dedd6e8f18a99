package delivery

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/hookd/hookd"
)

// visitor calls f for each header of a request or response.
type visitor func(f func(key, value []byte))

// visitHeader visits h in name order.
func visitHeader(h http.Header) visitor {
	return func(f func(key, value []byte)) {
		keys := make([]string, 0, len(h))
		for k := range h {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range h[k] {
				f([]byte(k), []byte(v))
			}
		}
	}
}

// sentHeaders returns the request headers of an attempt for the log. The values of
// the endpoint's custom headers and of Authorization, which may carry credentials,
// are redacted; the signature is not a secret and is kept.
func sentHeaders(info *endpointInfo, visit visitor, limit int) *hookd.AttemptHeaders {
	secret := map[string]bool{"authorization": true}
	for k := range info.ep.Headers {
		secret[strings.ToLower(k)] = true
	}
	out := &hookd.AttemptHeaders{Sent: map[string]string{}}
	size := 0
	visit(func(key, value []byte) {
		k, v := hookd.StorableText(string(key)), hookd.StorableText(string(value))
		if secret[strings.ToLower(k)] {
			v = hookd.RedactedValue
			if !slices.Contains(out.Sensitive, k) {
				out.Sensitive = append(out.Sensitive, k)
			}
		}
		if _, dup := out.Sent[k]; dup || size+len(k)+len(v) > limit {
			return
		}
		size += len(k) + len(v)
		out.Sent[k] = v
	})
	return out
}

// responseHeaders returns the response headers of an attempt for the log, in the
// order received, up to limit bytes.
func responseHeaders(visit visitor, limit int) [][2]string {
	out := [][2]string{}
	size := 0
	visit(func(key, value []byte) {
		k, v := hookd.StorableText(string(key)), hookd.StorableText(string(value))
		if size+len(k)+len(v) > limit {
			return
		}
		size += len(k) + len(v)
		out = append(out, [2]string{k, v})
	})
	return out
}

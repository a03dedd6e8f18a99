package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// These fuzz the two hand-written scanners of untrusted request bodies against
// encoding/json as the oracle. They are internal tests: the scanners are unexported.

var jsonSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a" : 1 , "b":[1,{"c":"}"}],"d":null}`, `{"A":1}`,
	`{"a\"b":1}`, `{"\u0061":1}`, `{"a":"x\\"}`, `{"a":{"b":{"c":[]}},"e":"\u00e9"}`,
	"{\n\t\"eventType\": \"invoice.paid\",\r\n \"payload\": {\"s\": \"a b\\t\\n\"}\n}",
	`{"a":[ 1 , 2 ],"a":true}`, `{"":0}`, `{"k":"]}"}`, `{"k":-1.5e+3}`,
}

// topLevelKeys returns the keys of a valid JSON object in order, and whether one is
// written in body otherwise than as its plain UTF-8 bytes (an escape sequence, or
// invalid UTF-8 that decoding replaces): exactKeys leaves those to the slow path.
func topLevelKeys(t *testing.T, body []byte) (keys []string, escaped bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '{'
		t.Fatal(err)
	}
	for dec.More() {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		raw := bytes.TrimLeft(body[off:dec.InputOffset()], " \t\r\n,")
		escaped = escaped || bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw)
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys, escaped
}

func FuzzExactKeys(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.TrimSpace(body)
		if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
			return // decode sends only valid objects here
		}
		keys, escaped := topLevelKeys(t, body)
		all := map[string]bool{}
		for _, k := range keys {
			all[k] = true
		}
		if got := exactKeys(body, all); got != !escaped {
			t.Fatalf("exactKeys(%q) with every key known = %v, want %v", body, got, !escaped)
		}
		if len(keys) == 0 {
			return
		}
		// Soundness: with one key unknown, never true.
		some := map[string]bool{}
		for _, k := range keys {
			if k != keys[0] {
				some[k] = true
			}
		}
		if exactKeys(body, some) {
			t.Fatalf("exactKeys(%q) = true with key %q unknown", body, keys[0])
		}
	})
}

func FuzzCompactPayload(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if !json.Valid(p) {
			return // decode checked the payload
		}
		var want bytes.Buffer
		if err := json.Compact(&want, p); err != nil {
			t.Fatal(err)
		}
		in := bytes.Clone(p)
		got := compactPayload(in)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("compactPayload(%q) = %q, want %q", p, got, want.Bytes())
		}
		if !bytes.Equal(in, p) {
			t.Fatalf("compactPayload changed its input: %q, was %q", in, p)
		}
	})
}

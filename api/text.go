package api

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
)

// The API refuses text a store cannot keep as given: a NUL character (PostgreSQL's
// text and jsonb types have none) and, in paths and queries, bytes that are not
// UTF-8 (JSON bodies cannot carry them: the decoder replaces them). Payloads and
// schemas are kept as bytes and may hold anything JSON allows.

// badText reports whether s cannot be stored as text.
func badText(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

// checkRequestText refuses a request whose path or query holds text no object
// could carry: a path segment with NUL or invalid UTF-8 names nothing (404), a query
// parameter with them is invalid (422).
func checkRequestText(r *http.Request) error {
	if badText(r.URL.Path) {
		return hookd.Errorf(hookd.ENOTFOUND, "no such path: it holds a NUL character or bytes that are not UTF-8")
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for name, vs := range r.URL.Query() {
		if badText(name) {
			return hookd.Errorf(hookd.EBADREQUEST, "a query parameter name holds a NUL character or bytes that are not UTF-8")
		}
		for _, v := range vs {
			if badText(v) {
				return invalidQuery(name, name+" must not hold a NUL character or bytes that are not UTF-8")
			}
		}
	}
	return nil
}

// nulEscape is how a NUL character appears in a JSON text.
var nulEscape = []byte(`\u0000`)

// checkDecodedText refuses a decoded body (dst, a pointer to a struct) with a NUL in
// any string field, map key or list item; raw JSON fields (payloads, schemas) are
// kept as bytes and not checked. body is what dst was decoded from: without the
// escape no string can hold a NUL, and nothing is walked.
func checkDecodedText(body []byte, dst any) error {
	if !bytes.Contains(body, nulEscape) {
		return nil
	}
	if field := nulField(reflect.ValueOf(dst), "body"); field != "" {
		return invalid(field, fmt.Sprintf("%s must not hold a NUL character", field))
	}
	return nil
}

// rawJSON is the type of fields kept as bytes.
var rawJSON = reflect.TypeFor[[]byte]()

// nulField returns the JSON path of the first string in v holding a NUL, or "".
func nulField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return nulField(v.Elem(), path)
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return path
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := path
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			if p := nulField(v.Field(i), name); p != "" {
				return p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if p := nulField(iter.Key(), path); p != "" {
				return p
			}
			if p := nulField(iter.Value(), path); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().ConvertibleTo(rawJSON) && v.Type().Elem().Kind() == reflect.Uint8 {
			return ""
		}
		for i := range v.Len() {
			if p := nulField(v.Index(i), path); p != "" {
				return p
			}
		}
	}
	return ""
}

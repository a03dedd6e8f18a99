package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// writeJSON answers with status and v as JSON. Like the Svix server it leaves <, > and &
// as they are: the answers are JSON, never HTML.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"code":"internal","detail":"internal error"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode reads the request body as one JSON object into dst (a pointer to a struct
// with json tags). Malformed JSON is a 400; unknown fields, wrong types and an oversized
// body are 422 and 413, as Svix answers them.
func decode(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return hookd.Errorf(hookd.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
		}
		return hookd.Errorf(hookd.EBADREQUEST, "read request body: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return hookd.Errorf(hookd.EBADREQUEST, "request body is empty: expected a JSON object")
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return hookd.Errorf(hookd.EBADREQUEST, "request body is not valid JSON")
		}
		return &hookd.Error{Code: hookd.EINVALID, Message: "request body must be a JSON object",
			Err: &validationError{loc: []string{"body"}, typ: "type_error", msg: "request body must be a JSON object"}}
	}
	// Fast path: a well-formed body with known fields only decodes in one pass. Any
	// error is classified again below, on the slow path, for a precise answer.
	fast := json.NewDecoder(bytes.NewReader(body))
	fast.DisallowUnknownFields()
	if err := fast.Decode(dst); err == nil && fast.InputOffset() == int64(len(body)) &&
		exactKeys(body, jsonFields(reflect.TypeOf(dst).Elem())) {
		return checkDecodedText(body, dst)
	}
	// dst may be partly filled: the slow path decodes into it again from scratch.
	reflect.ValueOf(dst).Elem().SetZero()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return hookd.Errorf(hookd.EBADREQUEST, "request body is not valid JSON: %s", syntaxDetail(err))
	}
	known := jsonFields(reflect.TypeOf(dst).Elem())
	for name := range fields {
		if !known[name] {
			return &hookd.Error{Code: hookd.EINVALID, Field: name, Message: fmt.Sprintf("unknown field %q", name),
				Err: &validationError{loc: []string{"body", name}, typ: "value_error.extra", msg: fmt.Sprintf("unknown field %q", name)}}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "body"
			}
			return invalidType(field, fmt.Sprintf("%s: expected %s, got JSON %s", field, jsonKind(te.Type), te.Value))
		}
		var fe *fieldError
		if errors.As(err, &fe) {
			return fe.err
		}
		return invalid("body", "invalid request body: "+err.Error())
	}
	return checkDecodedText(body, dst)
}

// exactKeys reports whether every top-level key of body, a valid JSON object, is in
// known with the same case (encoding/json matches names case-insensitively; the API
// does not). A key with an escape sequence is reported as not known, to take the
// slow path.
func exactKeys(body []byte, known map[string]bool) bool {
	i := 1 // past '{'
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] == '}' {
			return true
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		if i >= len(body) || body[i] != '"' {
			return false
		}
		end := i + 1
		for end < len(body) && body[end] != '"' {
			if body[end] == '\\' {
				return false
			}
			end++
		}
		if end >= len(body) || !known[string(body[i+1:end])] {
			return false
		}
		i = skipSpace(body, end+1)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		i = skipValue(body, skipSpace(body, i+1))
		if i < 0 {
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i] (valid JSON
// assumed), or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
			continue
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
			continue
		default:
			i++ // inside a number, literal or whitespace
			continue
		}
		if depth == 0 {
			return i
		}
	}
	return -1
}

// fieldError lets a field's UnmarshalJSON report a validation error.
type fieldError struct{ err error }

func (e *fieldError) Error() string { return e.err.Error() }

func syntaxDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at offset %d", se, se.Offset)
	}
	return err.Error()
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// jsonFields returns the JSON names of a struct's fields.
func jsonFields(t reflect.Type) map[string]bool {
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}

// optional is a JSON field of a PATCH body that tells "absent" from "null".
type optional[T any] struct {
	Set   bool // present in the body
	Null  bool // present as null
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// listOut is a Svix ListResponse.
type listOut[T any] struct {
	Data     []T     `json:"data"`
	Done     bool    `json:"done"`
	Iterator *string `json:"iterator"`
}

// Page limits.
const (
	defaultLimit = 50
	maxLimit     = 250
)

// page reads limit, iterator and order from the query.
func page(r *http.Request) (hookd.Page, error) {
	q := r.URL.Query()
	p := hookd.Page{Limit: defaultLimit, Iterator: q.Get("iterator")}
	if !validIterator(p.Iterator) {
		return p, invalidQuery("iterator", "iterator must be a value returned as iterator by an earlier page")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, invalidQuery("limit", "limit must be a positive integer")
		}
		p.Limit = min(n, maxLimit)
	}
	switch q.Get("order") {
	case "", "descending":
	case "ascending":
		p.Ascending = true
	default:
		return p, invalidQuery("order", `order must be "ascending" or "descending"`)
	}
	return p, nil
}

// validIterator reports whether it can be a cursor this API handed out: an ID or an event
// type name, at most 256 characters of letters, digits, '.', '_' and '-'.
func validIterator(it string) bool {
	if len(it) > 256 {
		return false
	}
	for i := 0; i < len(it); i++ {
		c := it[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// probe returns the page to ask the store for: one more row than the client wants, so
// the answer can say whether it is the last page.
func probe(p hookd.Page) hookd.Page {
	if p.Limit < maxLimit {
		p.Limit++
	}
	return p
}

// paginate trims rows fetched with probe(p) to p.Limit and builds the list answer.
func paginate[R, T any](p hookd.Page, rows []R, key func(R) string, conv func(R) T) listOut[T] {
	done := len(rows) < p.Limit || (len(rows) == p.Limit && p.Limit < maxLimit)
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
	}
	out := listOut[T]{Data: make([]T, 0, len(rows)), Done: done}
	for _, row := range rows {
		out.Data = append(out.Data, conv(row))
	}
	if len(rows) > 0 {
		it := key(rows[len(rows)-1])
		out.Iterator = &it
	}
	return out
}

// queryTime reads an RFC 3339 time from the query (zero when absent).
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalidQuery(name, name+" must be an RFC 3339 date-time")
	}
	return t, nil
}

// queryBool reads a boolean from the query.
func queryBool(r *http.Request, name string, def bool) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, invalidQuery(name, name+" must be true or false")
	}
	return b, nil
}

// maxQueryList is the most values a list filter may hold: far more than a filter
// needs, and few enough for any store's query.
const maxQueryList = 1000

// queryList reads a repeated (or comma-separated) query parameter of at most
// maxQueryList values.
func queryList(r *http.Request, name string) ([]string, error) {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		if len(out) > maxQueryList {
			return nil, invalidQuery(name, fmt.Sprintf("%s may hold at most %d values", name, maxQueryList))
		}
	}
	return out, nil
}

// queryStatus reads a MessageStatus from the query.
func queryStatus(r *http.Request) (*hookd.Status, error) {
	v := r.URL.Query().Get("status")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 3 {
		return nil, invalidQuery("status", "status must be 0 (success), 1 (pending), 2 (fail) or 3 (sending)")
	}
	st := hookd.Status(n)
	return &st, nil
}

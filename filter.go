package hookd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits of a payload filter, checked by ParsePayloadFilter.
const (
	// MaxPayloadFilterBytes bounds a filter's JSON text.
	MaxPayloadFilterBytes = 16 << 10
	// MaxPayloadFilterDepth bounds the nesting of and, or and not.
	MaxPayloadFilterDepth = 8
	// MaxPayloadFilterNodes bounds the conditions and combinations of one filter.
	MaxPayloadFilterNodes = 128
	// MaxPayloadFilterPathSegments bounds the segments of one path.
	MaxPayloadFilterPathSegments = 32
	// MaxPayloadFilterInValues bounds the values of one "in".
	MaxPayloadFilterInValues = 256
)

// PayloadFilter is a declarative condition on a message's JSON payload: an endpoint
// with one receives only the messages whose payload it matches. Its JSON form is a
// condition, {"path": "data.amount", "gt": 100}, with exactly one operator of eq, ne,
// in, gt, gte, lt, lte and exists, or a combination, {"and": [...]}, {"or": [...]}
// or {"not": {...}}. docs/filters.md describes the language. A PayloadFilter is
// immutable, so endpoints that share one may be read concurrently.
type PayloadFilter struct {
	src  json.RawMessage
	root *filterNode
}

// filterOp is the operator of one node of a filter.
type filterOp int

const (
	opAnd filterOp = iota
	opOr
	opNot
	opEq
	opNe
	opIn
	opGt
	opGte
	opLt
	opLte
	opExists
)

// conditionOps names the operators of a condition, in the order errors list them.
var conditionOps = []string{"eq", "ne", "in", "gt", "gte", "lt", "lte", "exists"}

var opByName = map[string]filterOp{
	"and": opAnd, "or": opOr, "not": opNot, "eq": opEq, "ne": opNe, "in": opIn,
	"gt": opGt, "gte": opGte, "lt": opLt, "lte": opLte, "exists": opExists,
}

type filterNode struct {
	op     filterOp
	kids   []*filterNode // and, or; not has one
	path   []string
	value  any   // eq, ne, gt, gte, lt, lte: decoded with json.Number
	values []any // in
	exists bool
}

// FilterError is what is wrong with a payload filter: Loc is where in the filter, as
// keys and array indexes from its top (such as ["and", "1", "gt"]).
type FilterError struct {
	Loc []string
	Msg string
}

// Error names the place and the problem, as "and[1].gt: …".
func (e *FilterError) Error() string {
	if len(e.Loc) == 0 {
		return e.Msg
	}
	return filterLocation(e.Loc) + ": " + e.Msg
}

// filterLocation writes a location in a filter the way errors show it: keys joined by
// dots, array indexes in brackets.
func filterLocation(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// ParsePayloadFilter parses and checks a filter's JSON form. Its error is an EINVALID
// about field whose cause is a *FilterError naming the place in the filter.
func ParsePayloadFilter(field string, raw []byte) (*PayloadFilter, error) {
	f, ferr := parsePayloadFilter(raw)
	if ferr != nil {
		msg := ferr.Msg
		if len(ferr.Loc) > 0 {
			msg = field + "." + filterLocation(ferr.Loc) + ": " + msg
		} else {
			msg = field + ": " + msg
		}
		return nil, &Error{Code: EINVALID, Field: field, Message: msg, Err: ferr}
	}
	return f, nil
}

func parsePayloadFilter(raw []byte) (*PayloadFilter, *FilterError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > MaxPayloadFilterBytes {
		return nil, &FilterError{Msg: fmt.Sprintf("a filter may be at most %d bytes of JSON", MaxPayloadFilterBytes)}
	}
	if !json.Valid(raw) {
		return nil, &FilterError{Msg: "a filter must be valid JSON"}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &FilterError{Msg: "a filter must be valid JSON"}
	}
	p := filterParser{}
	root, err := p.node(buf.Bytes(), nil, 1)
	if err != nil {
		return nil, err
	}
	return &PayloadFilter{src: buf.Bytes(), root: root}, nil
}

type filterParser struct {
	nodes int
}

func (p *filterParser) node(raw []byte, loc []string, depth int) (*filterNode, *FilterError) {
	fail := func(loc []string, format string, args ...any) *FilterError {
		return &FilterError{Loc: slices.Clone(loc), Msg: fmt.Sprintf(format, args...)}
	}
	if p.nodes++; p.nodes > MaxPayloadFilterNodes {
		return nil, fail(loc, "a filter may hold at most %d conditions and combinations", MaxPayloadFilterNodes)
	}
	var obj map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return nil, fail(loc, `must be an object: a condition such as {"path": "data.amount", "gt": 100}, or {"and": [...]}, {"or": [...]}, {"not": {...}}`)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if _, ok := opByName[k]; !ok && k != "path" {
			return nil, fail(append(loc, k), "unknown key %q: a condition has \"path\" and one of %s; a combination is one of and, or, not", k, strings.Join(conditionOps, ", "))
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, comb := range []string{"and", "or", "not"} {
		v, ok := obj[comb]
		if !ok {
			continue
		}
		if len(obj) != 1 {
			return nil, fail(loc, "%q must be the only key of its object (found %s)", comb, strings.Join(keys, ", "))
		}
		if depth >= MaxPayloadFilterDepth {
			return nil, fail(append(loc, comb), "filters may nest and, or and not at most %d deep", MaxPayloadFilterDepth-1)
		}
		sub := append(slices.Clone(loc), comb)
		if comb == "not" {
			kid, err := p.node(v, sub, depth+1)
			if err != nil {
				return nil, err
			}
			return &filterNode{op: opNot, kids: []*filterNode{kid}}, nil
		}
		var list []json.RawMessage
		if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &list) != nil {
			return nil, fail(sub, "must be an array of filters")
		}
		if len(list) == 0 {
			return nil, fail(sub, "must hold at least one filter")
		}
		n := &filterNode{op: opByName[comb]}
		for i, item := range list {
			kid, err := p.node(item, append(slices.Clone(sub), strconv.Itoa(i)), depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		return n, nil
	}
	rawPath, ok := obj["path"]
	if !ok {
		return nil, fail(loc, "a condition needs \"path\", the place in the payload it tests (such as \"data.amount\")")
	}
	var ops []string
	for _, k := range keys {
		if k != "path" {
			ops = append(ops, k)
		}
	}
	if len(ops) != 1 {
		return nil, fail(loc, "a condition needs exactly one operator of %s (found %d)", strings.Join(conditionOps, ", "), len(ops))
	}
	var path string
	if json.Unmarshal(rawPath, &path) != nil {
		return nil, fail(append(loc, "path"), "must be a string such as \"data.amount\" or a JSON Pointer such as \"/data/amount\"")
	}
	segs, msg := parseFilterPath(path)
	if msg != "" {
		return nil, fail(append(loc, "path"), "%s", msg)
	}
	op := ops[0]
	n := &filterNode{op: opByName[op], path: segs}
	opLoc := append(slices.Clone(loc), op)
	v, err := decodeJSONValue(obj[op])
	if err != nil {
		return nil, fail(opLoc, "must be a JSON value")
	}
	switch n.op {
	case opEq, opNe:
		n.value = v
	case opGt, opGte, opLt, opLte:
		switch v.(type) {
		case json.Number, string:
		default:
			return nil, fail(opLoc, "must be a number or a string")
		}
		n.value = v
	case opIn:
		list, ok := v.([]any)
		if !ok {
			return nil, fail(opLoc, "must be an array of values")
		}
		if len(list) == 0 || len(list) > MaxPayloadFilterInValues {
			return nil, fail(opLoc, "must hold between 1 and %d values", MaxPayloadFilterInValues)
		}
		n.values = list
	case opExists:
		b, ok := v.(bool)
		if !ok {
			return nil, fail(opLoc, "must be true or false")
		}
		n.exists = b
	}
	return n, nil
}

// parseFilterPath splits a path of a payload filter into its segments: a JSON Pointer
// ("/data/amount", RFC 6901) when it starts with '/', else keys separated by dots
// ("data.amount"). A segment that is a number also indexes an array. The message
// says what is wrong, "" for a good path.
func parseFilterPath(path string) ([]string, string) {
	if path == "" {
		return nil, "must not be empty"
	}
	if len(path) > 1024 {
		return nil, "must be at most 1024 characters"
	}
	var segs []string
	if strings.HasPrefix(path, "/") {
		segs = strings.Split(path[1:], "/")
		for i, s := range segs {
			if !validPointerEscapes(s) {
				return nil, "a JSON Pointer may escape only ~0 (~) and ~1 (/)"
			}
			segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		}
	} else {
		segs = strings.Split(path, ".")
		if slices.Contains(segs, "") {
			return nil, "must not have an empty segment (use a JSON Pointer such as \"/a//b\" for empty keys)"
		}
	}
	if len(segs) > MaxPayloadFilterPathSegments {
		return nil, fmt.Sprintf("may have at most %d segments", MaxPayloadFilterPathSegments)
	}
	return segs, ""
}

// validPointerEscapes reports whether every '~' of a JSON Pointer segment starts ~0 or ~1.
func validPointerEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && (i+1 == len(s) || (s[i+1] != '0' && s[i+1] != '1')) {
			return false
		}
	}
	return true
}

// arrayIndex parses a path segment as an array index: digits without a leading zero.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return 0, false
		}
		n = n*10 + int(seg[i]-'0')
	}
	return n, true
}

// decodeJSONValue decodes one JSON value, numbers as json.Number; anything after it
// but white space is an error.
func decodeJSONValue(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(raw[d.InputOffset():])) > 0 {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// DecodePayload decodes a JSON payload for MatchValue.
func DecodePayload(payload []byte) (any, error) { return decodeJSONValue(payload) }

// MarshalJSON returns the filter's JSON form, compact.
func (f *PayloadFilter) MarshalJSON() ([]byte, error) { return f.src, nil }

// String returns the filter's JSON form.
func (f *PayloadFilter) String() string { return string(f.src) }

// Match reports whether the JSON payload matches the filter. A payload that is not
// valid JSON matches no filter.
func (f *PayloadFilter) Match(payload []byte) bool {
	v, err := DecodePayload(payload)
	return err == nil && f.MatchValue(v)
}

// MatchValue reports whether a payload decoded by DecodePayload matches the filter.
func (f *PayloadFilter) MatchValue(payload any) bool { return f.root.match(payload) }

func (n *filterNode) match(doc any) bool {
	switch n.op {
	case opAnd:
		for _, k := range n.kids {
			if !k.match(doc) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.match(doc) {
				return true
			}
		}
		return false
	case opNot:
		return !n.kids[0].match(doc)
	}
	v, found := lookupPath(doc, n.path)
	switch n.op {
	case opExists:
		return found == n.exists
	case opNe:
		return !found || !jsonEqual(v, n.value)
	}
	if !found {
		return false
	}
	switch n.op {
	case opEq:
		return jsonEqual(v, n.value)
	case opIn:
		return slices.ContainsFunc(n.values, func(w any) bool { return jsonEqual(v, w) })
	}
	c, ok := jsonCompare(v, n.value)
	if !ok {
		return false
	}
	switch n.op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	default: // opLte
		return c <= 0
	}
}

// lookupPath follows path from doc: keys of objects, indexes of arrays.
func lookupPath(doc any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := doc.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, ok := arrayIndex(seg)
			if !ok || i >= len(x) {
				return nil, false
			}
			doc = x[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// jsonEqual compares two decoded JSON values; numbers by value (1 equals 1.0).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		c, ok := compareNumbers(x, y)
		return ok && c == 0
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// jsonCompare orders two numbers or two strings (strings by their bytes); other
// pairs do not compare.
func jsonCompare(a, b any) (int, bool) {
	switch x := a.(type) {
	case json.Number:
		if y, ok := b.(json.Number); ok {
			return compareNumbers(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	}
	return 0, false
}

// compareNumbers compares two JSON numbers: exactly when both are integers (of any
// size), else as float64 (as JavaScript would).
func compareNumbers(a, b json.Number) (int, bool) {
	if isInteger(string(a)) && isInteger(string(b)) {
		return compareIntegers(string(a), string(b)), true
	}
	// Out of range parses as ±Inf, which still orders.
	x, errX := strconv.ParseFloat(string(a), 64)
	y, errY := strconv.ParseFloat(string(b), 64)
	if (errX != nil && !isRange(errX)) || (errY != nil && !isRange(errY)) {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

// isInteger reports whether a JSON number is written as an integer: an optional
// minus and digits, without a leading zero (as JSON writes them).
func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareIntegers compares two integers as isInteger accepts them.
func compareIntegers(a, b string) int {
	negA, negB := strings.HasPrefix(a, "-") && a != "-0", strings.HasPrefix(b, "-") && b != "-0"
	if negA != negB {
		if negA {
			return -1
		}
		return 1
	}
	a, b = strings.TrimPrefix(a, "-"), strings.TrimPrefix(b, "-")
	c := len(a) - len(b)
	if c == 0 {
		c = strings.Compare(a, b)
	}
	if c > 0 {
		c = 1
	} else if c < 0 {
		c = -1
	}
	if negA {
		return -c
	}
	return c
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

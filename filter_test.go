package hookd_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd"
)

func TestPayloadFilterMatch(t *testing.T) {
	payload := `{"type":"invoice.paid","data":{"amount":250,"currency":"EUR","big":12345678901234567890,
		"ratio":0.5,"paid":true,"note":null,"tags":["a","b"],"lines":[{"sku":"x-1","qty":2}],
		"a.b":1,"a/b":2,"a~b":3,"":4,"nested":{"k":[1,2]}}}`
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		{"eq number", `{"path":"data.amount","eq":250}`, true},
		{"eq number by value", `{"path":"data.amount","eq":250.0}`, true},
		{"eq number by exponent", `{"path":"data.amount","eq":2.5e2}`, true},
		{"eq other number", `{"path":"data.amount","eq":251}`, false},
		{"eq string", `{"path":"data.currency","eq":"EUR"}`, true},
		{"eq is case-sensitive", `{"path":"data.currency","eq":"eur"}`, false},
		{"eq string is not number", `{"path":"data.amount","eq":"250"}`, false},
		{"eq bool", `{"path":"data.paid","eq":true}`, true},
		{"eq null", `{"path":"data.note","eq":null}`, true},
		{"eq null is not missing", `{"path":"data.missing","eq":null}`, false},
		{"eq array", `{"path":"data.tags","eq":["a","b"]}`, true},
		{"eq array in order", `{"path":"data.tags","eq":["b","a"]}`, false},
		{"eq object", `{"path":"data.nested","eq":{"k":[1,2.0]}}`, true},
		{"eq object with more keys", `{"path":"data.nested","eq":{"k":[1,2],"j":1}}`, false},
		{"ne", `{"path":"data.currency","ne":"USD"}`, true},
		{"ne same", `{"path":"data.currency","ne":"EUR"}`, false},
		{"ne matches missing", `{"path":"data.missing","ne":"EUR"}`, true},
		{"in", `{"path":"data.currency","in":["USD","EUR"]}`, true},
		{"in none", `{"path":"data.currency","in":["USD","GBP"]}`, false},
		{"in numbers", `{"path":"data.amount","in":[1,250.0]}`, true},
		{"in missing", `{"path":"data.missing","in":[null]}`, false},
		{"gt", `{"path":"data.amount","gt":100}`, true},
		{"gt equal", `{"path":"data.amount","gt":250}`, false},
		{"gte equal", `{"path":"data.amount","gte":250}`, true},
		{"lt", `{"path":"data.amount","lt":250.5}`, true},
		{"lte", `{"path":"data.amount","lte":249.99}`, false},
		{"gt fraction", `{"path":"data.ratio","gt":0.25}`, true},
		{"big integer exact", `{"path":"data.big","gt":12345678901234567889}`, true},
		{"gt negative", `{"path":"data.amount","gt":-1e400}`, true},
		{"string order", `{"path":"data.currency","gt":"DKK"}`, true},
		{"string order lt", `{"path":"data.currency","lt":"AUD"}`, false},
		{"number against string compares nothing", `{"path":"data.amount","gt":"100"}`, false},
		{"string against number compares nothing", `{"path":"data.currency","lt":1}`, false},
		{"compare missing", `{"path":"data.missing","lt":1}`, false},
		{"exists", `{"path":"data.note","exists":true}`, true},
		{"exists missing", `{"path":"data.missing","exists":true}`, false},
		{"not exists", `{"path":"data.missing","exists":false}`, true},
		{"not exists present", `{"path":"data.amount","exists":false}`, false},
		{"array index", `{"path":"data.lines.0.sku","eq":"x-1"}`, true},
		{"array index out of range", `{"path":"data.lines.1.sku","exists":true}`, false},
		{"array index with leading zero", `{"path":"data.tags.01","exists":true}`, false},
		{"array key not index", `{"path":"data.tags.x","exists":true}`, false},
		{"through a scalar", `{"path":"data.amount.x","exists":true}`, false},
		{"pointer", `{"path":"/data/lines/0/qty","eq":2}`, true},
		{"pointer dotted key", `{"path":"/data/a.b","eq":1}`, true},
		{"pointer escaped slash", `{"path":"/data/a~1b","eq":2}`, true},
		{"pointer escaped tilde", `{"path":"/data/a~0b","eq":3}`, true},
		{"pointer empty key", `{"path":"/data/","eq":4}`, true},
		{"dotted path does not see dotted key", `{"path":"data.a.b","exists":true}`, false},
		{"and", `{"and":[{"path":"data.amount","gt":100},{"path":"data.currency","in":["EUR","USD"]}]}`, true},
		{"and one fails", `{"and":[{"path":"data.amount","gt":100},{"path":"data.currency","eq":"USD"}]}`, false},
		{"or", `{"or":[{"path":"data.amount","gt":1000},{"path":"data.currency","eq":"EUR"}]}`, true},
		{"or none", `{"or":[{"path":"data.amount","gt":1000},{"path":"data.currency","eq":"USD"}]}`, false},
		{"not", `{"not":{"path":"type","eq":"invoice.paid"}}`, false},
		{"not not", `{"not":{"not":{"path":"type","eq":"invoice.paid"}}}`, true},
		{"nested", `{"or":[{"and":[{"path":"data.paid","eq":true},{"not":{"path":"data.tags.1","eq":"a"}}]},{"path":"x","exists":true}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(tt.filter))
			if err != nil {
				t.Fatalf("parse %s: %v", tt.filter, err)
			}
			if got := f.Match([]byte(payload)); got != tt.want {
				t.Errorf("%s matches = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestPayloadFilterMatchesNoBadPayload(t *testing.T) {
	f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(`{"path":"a","exists":false}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"a":`, `{} {}`, `{}x`, ``} {
		if f.Match([]byte(bad)) {
			t.Errorf("payload %q, not one JSON value, matched", bad)
		}
	}
	if !f.Match([]byte(`[1,2]`)) {
		t.Error("an array payload has no key a, so exists:false must match")
	}
}

func TestParsePayloadFilterErrors(t *testing.T) {
	deep := `{"path":"a","eq":1}`
	for range hookd.MaxPayloadFilterDepth {
		deep = `{"not":` + deep + `}`
	}
	many := `{"or":[` + strings.Repeat(`{"path":"a","eq":1},`, hookd.MaxPayloadFilterNodes) + `{"path":"a","eq":1}]}`
	manyIn := `{"path":"a","in":[` + strings.Repeat(`1,`, hookd.MaxPayloadFilterInValues) + `1]}`
	tests := []struct {
		name   string
		filter string
		loc    []string
		msg    string // part of the message
	}{
		{"not JSON", `{"path":`, nil, "valid JSON"},
		{"not an object", `[1]`, nil, "must be an object"},
		{"empty object", `{}`, nil, `needs "path"`},
		{"no operator", `{"path":"a"}`, nil, "exactly one operator"},
		{"two operators", `{"path":"a","eq":1,"ne":2}`, nil, "exactly one operator"},
		{"operator without path", `{"eq":1}`, nil, `needs "path"`},
		{"unknown key", `{"path":"a","equals":1}`, []string{"equals"}, `unknown key "equals"`},
		{"unknown key in and", `{"and":[{"path":"a","eq":1},{"path":"b","like":"x"}]}`, []string{"and", "1", "like"}, "unknown key"},
		{"path not a string", `{"path":1,"eq":1}`, []string{"path"}, "must be a string"},
		{"empty path", `{"path":"","eq":1}`, []string{"path"}, "must not be empty"},
		{"empty segment", `{"path":"a..b","eq":1}`, []string{"path"}, "empty segment"},
		{"bad pointer escape", `{"path":"/a~2","eq":1}`, []string{"path"}, "~0"},
		{"long path", `{"path":"` + strings.Repeat("a.", hookd.MaxPayloadFilterPathSegments) + `a","eq":1}`, []string{"path"}, "segments"},
		{"gt of bool", `{"path":"a","gt":true}`, []string{"gt"}, "number or a string"},
		{"lte of object", `{"path":"a","lte":{}}`, []string{"lte"}, "number or a string"},
		{"in not array", `{"path":"a","in":"EUR"}`, []string{"in"}, "array"},
		{"in empty", `{"path":"a","in":[]}`, []string{"in"}, "between 1 and"},
		{"in too many", manyIn, []string{"in"}, "between 1 and"},
		{"exists not bool", `{"path":"a","exists":1}`, []string{"exists"}, "true or false"},
		{"and not array", `{"and":{"path":"a","eq":1}}`, []string{"and"}, "array of filters"},
		{"or empty", `{"or":[]}`, []string{"or"}, "at least one"},
		{"and with path", `{"and":[{"path":"a","eq":1}],"path":"b"}`, nil, "only key"},
		{"not of array", `{"not":[{"path":"a","eq":1}]}`, []string{"not"}, "must be an object"},
		{"nested bad", `{"or":[{"not":{"path":"a","gt":null}}]}`, []string{"or", "0", "not", "gt"}, "number or a string"},
		{"too deep", deep, []string{"not", "not", "not", "not", "not", "not", "not", "not"}, "deep"},
		{"too many nodes", many, []string{"or", "127"}, "at most"},
		{"too large", `{"path":"a","eq":"` + strings.Repeat("x", hookd.MaxPayloadFilterBytes) + `"}`, nil, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := hookd.ParsePayloadFilter("payloadFilter", []byte(tt.filter))
			if hookd.ErrorCode(err) != hookd.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			var fe *hookd.FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FilterError cause", err)
			}
			if !slices.Equal(fe.Loc, tt.loc) {
				t.Errorf("loc = %q, want %q", fe.Loc, tt.loc)
			}
			if msg := hookd.ErrorMessage(err); !strings.Contains(msg, tt.msg) || !strings.HasPrefix(msg, "payloadFilter") {
				t.Errorf("message %q: want it to start with payloadFilter and say %q", msg, tt.msg)
			}
		})
	}
}

func TestPayloadFilterJSON(t *testing.T) {
	f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(" {\"and\": [ {\"path\": \"a\", \"eq\": 1} ]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct {
		F *hookd.PayloadFilter `json:"f"`
	}{f})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"f":{"and":[{"path":"a","eq":1}]}}`; string(b) != want {
		t.Errorf("marshalled %s, want %s", b, want)
	}
	again, err := hookd.ParsePayloadFilter("payloadFilter", []byte(f.String()))
	if err != nil || again.String() != f.String() {
		t.Errorf("reparse: %v, %v", again, err)
	}
}

package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/server"
)

// eachStore runs f against a server on SQLite and, with HOOKD_TEST_POSTGRES, one on
// PostgreSQL.
func eachStore(t *testing.T, f func(t *testing.T, ts *testServer), edit ...func(*server.Config)) {
	t.Run("sqlite", func(t *testing.T) { f(t, startServer(t, edit...)) })
	t.Run("postgres", func(t *testing.T) {
		db := postgresDB(t)
		f(t, startServer(t, append([]func(*server.Config){func(c *server.Config) { c.DB = db }}, edit...)...))
	})
}

// TestBadInputAnswers4xx sends the inputs that once answered 500 (or were stored
// wrong) on either store: each must get a 4xx with a code, or be accepted and read back
// as sent.
func TestBadInputAnswers4xx(t *testing.T) {
	eachStore(t, func(t *testing.T, ts *testServer) {
		api := &faultAPI{t: t, ts: ts}
		api.id("POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
		api.id("POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/h","uid":"ep1"}`)
		many := strings.TrimSuffix(strings.Repeat("a,", 33000), ",")
		cases := []struct {
			name, method, path, body string
			want                     int // 0: any 4xx
		}{
			{"NUL in app name", "POST", "/api/v1/app", `{"name":"a\u0000b"}`, 422},
			{"NUL in app metadata value", "POST", "/api/v1/app", `{"name":"a","metadata":{"k":"v\u0000"}}`, 422},
			{"NUL in app metadata key", "POST", "/api/v1/app", `{"name":"a","metadata":{"k\u0000":"v"}}`, 422},
			{"NUL in endpoint description", "POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/x","description":"d\u0000"}`, 422},
			{"NUL in endpoint header", "PUT", "/api/v1/app/acme/endpoint/ep1/headers", `{"headers":{"X-A":"v\u0000"}}`, 0},
			{"NUL in event type description", "POST", "/api/v1/event-type", `{"name":"a.b","description":"x\u0000"}`, 422},
			{"NUL in path segment", "GET", "/api/v1/app/a%00b", "", 0},
			{"invalid UTF-8 in path segment", "GET", "/api/v1/app/a%ffb", "", 0},
			{"invalid UTF-8 in endpoint path", "GET", "/api/v1/app/acme/endpoint/%c3%28", "", 0},
			{"NUL in query", "GET", "/api/v1/app/acme/msg?channel=a%00b", "", 0},
			{"invalid UTF-8 in iterator", "GET", "/api/v1/app?iterator=%ff", "", 0},
			{"too many event_types", "GET", "/api/v1/app/acme/msg?event_types=" + many, "", 0},
			{"too many event_types on attempts", "GET", "/api/v1/app/acme/attempt/endpoint/ep1?event_types=" + many, "", 0},
			{"timeoutMs overflowing int64 nanoseconds", "POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/x","timeoutMs":9223372036854775807}`, 422},
			{"timeoutMs wrapping to a tiny duration", "POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/x","timeoutMs":18446744073710}`, 422},
			{"timeoutMs beyond int64", "POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/x","timeoutMs":1e30}`, 422},
			{"retry schedule of huge days", "POST", "/api/v1/app", `{"name":"a","retrySchedule":"106751992d"}`, 0},
			{"uid .", "POST", "/api/v1/app", `{"name":"a","uid":"."}`, 422},
			{"uid ..", "POST", "/api/v1/app", `{"name":"a","uid":".."}`, 422},
			{"endpoint uid ..", "POST", "/api/v1/app/acme/endpoint", `{"url":"https://example.com/x","uid":".."}`, 422},
			{"event type name ..", "POST", "/api/v1/event-type", `{"name":".."}`, 422},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				code, body := ts.raw(t, c.method, c.path, c.body)
				if c.want != 0 && code != c.want || code < 400 || code > 499 {
					t.Fatalf("%s %s = %d %s; want 4xx (%d)", c.method, clip([]byte(c.path)), code, clip(body), c.want)
				}
				var e struct {
					Code   string          `json:"code"`
					Detail json.RawMessage `json:"detail"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Code == "" && len(e.Detail) == 0 {
					t.Fatalf("%d body %s has no code or detail", code, clip(body))
				}
			})
		}
		// NUL is fine where hookd keeps the bytes as given: in a payload.
		code, body := ts.raw(t, "POST", "/api/v1/app/acme/msg", `{"eventType":"a.b","payload":{"s":"x\u0000y"}}`)
		if code != http.StatusAccepted {
			t.Fatalf("payload with NUL = %d %s", code, clip(body))
		}
		var m struct{ ID string }
		_ = json.Unmarshal(body, &m)
		code, body = ts.raw(t, "GET", "/api/v1/app/acme/msg/"+m.ID, "")
		if code != http.StatusOK || !strings.Contains(string(body), `x\u0000y`) {
			t.Fatalf("read back payload with NUL = %d %s", code, clip(body))
		}
	})
}

func clip(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%s… (%d bytes)", b[:300], len(b))
	}
	return string(b)
}

package hookd

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Attempt is one HTTP request hookd made (or refused to make) to an endpoint.
type Attempt struct {
	ID         string
	AppID      string
	MsgID      string
	EndpointID string
	URL        string
	// Status is StatusSuccess or StatusFail.
	Status Status
	// ResponseStatusCode is the receiver's HTTP status, or 0 when no response came.
	ResponseStatusCode int
	// Response is the start of the response body (truncated).
	Response string
	Duration time.Duration
	Trigger  Trigger
	// Error says why the attempt failed without a usable response (timeout,
	// connection refused, address refused by the SSRF guard, …); "" otherwise.
	Error     string
	Timestamp time.Time
	// Headers are the request headers sent and the response headers received; nil
	// when none were stored (no request was made, or it was logged before hookd
	// kept them).
	Headers *AttemptHeaders
}

// AttemptHeaders are the headers of one attempt, each side cut at the dispatcher's
// cap (DefaultAttemptHeadersCap unless configured).
type AttemptHeaders struct {
	// Sent are the request headers, signature included; the values of the names
	// in Sensitive are replaced by RedactedValue.
	Sent      map[string]string `json:"sent"`
	Sensitive []string          `json:"sensitive,omitempty"`
	// Response are the response headers in the order received; nil without a response.
	Response [][2]string `json:"response,omitempty"`
}

// MaxAttemptHeaderBytes is the default cap of the headers kept of each side of an
// attempt (names and values): headers past the cap are left out.
const MaxAttemptHeaderBytes = DefaultAttemptHeadersCap

// RedactedValue stands for the value of a sensitive header in the attempt log.
const RedactedValue = "<redacted>"

// EncodeAttemptHeaders returns h as stores keep it: "" for nil, else JSON.
func EncodeAttemptHeaders(h *AttemptHeaders) string {
	if h == nil {
		return ""
	}
	b, err := json.Marshal(h)
	if err != nil {
		return ""
	}
	return string(b)
}

// DecodeAttemptHeaders reads what EncodeAttemptHeaders returned; nil for "" or
// text that does not parse.
func DecodeAttemptHeaders(s string) *AttemptHeaders {
	if s == "" {
		return nil
	}
	var h AttemptHeaders
	if json.Unmarshal([]byte(s), &h) != nil {
		return nil
	}
	if h.Sent == nil {
		h.Sent = map[string]string{}
	}
	return &h
}

// AttemptFilter narrows a list of attempts.
type AttemptFilter struct {
	Status *Status
	// StatusCodeClass keeps attempts whose status code is in [class, class+100); 0 keeps
	// all. Class 0 itself (no response) is asked for with NoResponse.
	StatusCodeClass int
	NoResponse      bool
	EventTypes      []string
	Channel         string
	EndpointID      string
	Before          time.Time
	After           time.Time
}

// AttemptStore reads the attempt log.
type AttemptStore interface {
	// Attempt returns one attempt of a message.
	Attempt(ctx context.Context, appID, msgID, attemptID string) (*Attempt, error)
	// AttemptsByMessage lists a message's attempts by ID.
	AttemptsByMessage(ctx context.Context, appID, msgID string, filter AttemptFilter, page Page) ([]*Attempt, error)
	// AttemptsByEndpoint lists an endpoint's attempts by ID.
	AttemptsByEndpoint(ctx context.Context, appID, endpointID string, filter AttemptFilter, page Page) ([]*Attempt, error)
	// ExpungeAttemptContent clears the stored response body of one attempt.
	ExpungeAttemptContent(ctx context.Context, appID, msgID, attemptID string) error
}

// StorableText returns s as any store can keep it as text: bytes that are not UTF-8
// and NUL characters (which PostgreSQL's text type cannot hold) become U+FFFD. Text
// that comes from outside hookd, such as a receiver's response body or an error
// describing its answer, passes through it before it is stored.
func StorableText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

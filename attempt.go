package hookd

import (
	"context"
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

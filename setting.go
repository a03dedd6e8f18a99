package hookd

import (
	"context"
	"time"
)

// IdempotentResponse is an API response stored under an Idempotency-Key, returned
// again for a repeated request.
type IdempotentResponse struct {
	Key         string
	StatusCode  int
	ContentType string
	Body        []byte
	CreatedAt   time.Time
}

// IdempotencyClaimStale is how long a claimed idempotency key stays busy without an
// answer before another request may take it over (its node died mid-request).
const IdempotencyClaimStale = time.Minute

// IdempotentReplay is the error of MessageCreator.CreateMessage when the key of the
// message's Idempotency already holds an answer: nothing was stored, and Response is
// the earlier answer, to be given again.
type IdempotentReplay struct {
	Response *IdempotentResponse
}

func (e *IdempotentReplay) Error() string {
	return "the Idempotency-Key has an answer already"
}

// IdempotencyStore keeps API responses by idempotency key. A request with a key first
// claims it (ClaimIdempotencyKey), so that of two requests with one key, on any nodes,
// only one runs; it then stores its answer (SaveIdempotentResponse) or gives the key
// back (ReleaseIdempotencyKey).
type IdempotencyStore interface {
	// ClaimIdempotencyKey reserves key for a request starting at now. It returns
	// (nil, nil) when the caller now holds the claim; the stored response when the key
	// already has one; and an EIDEMPOTENTBUSY error when another request holds a claim
	// made after now-stale. A claim older than that is taken over (its holder died).
	ClaimIdempotencyKey(ctx context.Context, key string, now time.Time, stale time.Duration) (*IdempotentResponse, error)
	// ReleaseIdempotencyKey drops an unanswered claim on key; a stored response stays.
	ReleaseIdempotencyKey(ctx context.Context, key string) error
	// IdempotentResponse returns the response stored under key, or ENOTFOUND (also
	// while the key is only claimed).
	IdempotentResponse(ctx context.Context, key string) (*IdempotentResponse, error)
	// SaveIdempotentResponse stores r, replacing a claim on its key, unless a response
	// is already stored under the key; it returns what is stored afterwards (r, or the
	// earlier response).
	SaveIdempotentResponse(ctx context.Context, r *IdempotentResponse) (*IdempotentResponse, error)
	// DeleteIdempotentResponses removes responses created before t.
	DeleteIdempotentResponses(ctx context.Context, before time.Time) error
}

// SettingStore keeps server-wide settings, such as the admin token's hash.
type SettingStore interface {
	// Setting returns the value of name, or ENOTFOUND.
	Setting(ctx context.Context, name string) (string, error)
	// PutSetting sets name to value.
	PutSetting(ctx context.Context, name, value string) error
	// PutSettingIfAbsent sets name to value unless it has a value, and returns the value
	// it has afterwards; nodes starting at once agree on one value.
	PutSettingIfAbsent(ctx context.Context, name, value string) (string, error)
}

package webhook

import (
	"errors"
	"net/http"
)

// Sentinel errors. Every error returned by this package wraps exactly one of them, so
// callers test the reason with errors.Is; the wrapping message adds detail (which
// header, which limit) but never a secret or a signature.
var (
	// ErrMissingHeaders means a header the profile needs is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing required header")
	// ErrInvalidHeader means the signature header could not be parsed (for example a
	// Stripe-style header without "t=").
	ErrInvalidHeader = errors.New("webhook: malformed signature header")
	// ErrInvalidTimestamp means the timestamp is not a Unix time in decimal seconds.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp")
	// ErrInvalidSignature means no signature in the header matched any key.
	ErrInvalidSignature = errors.New("webhook: no matching signature")
	// ErrTimestampTooOld means the timestamp is further in the past than the tolerance.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew means the timestamp is further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("webhook: timestamp too far in the future")
	// ErrReplay means a message with the same ID was already processed successfully.
	ErrReplay = errors.New("webhook: message already processed")
	// ErrInFlight means a message with the same ID is being processed right now.
	ErrInFlight = errors.New("webhook: message already being processed")
	// ErrBodyTooLarge means the request body exceeds the middleware's limit.
	ErrBodyTooLarge = errors.New("webhook: body too large")
	// ErrSourceNotAllowed means the client address is outside the allowlist.
	ErrSourceNotAllowed = errors.New("webhook: source address not allowed")
	// ErrInvalidSecret means a secret or key string could not be parsed.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrUnknownProfile means no built-in profile has the requested name.
	ErrUnknownProfile = errors.New("webhook: unknown signature profile")
	// ErrInvalidProfile means a Profile value is incomplete or inconsistent.
	ErrInvalidProfile = errors.New("webhook: invalid signature profile")
	// ErrInvalidOption means a constructor was given an unusable option.
	ErrInvalidOption = errors.New("webhook: invalid option")
	// ErrOverloaded means AckFast's queue is full or it is shutting down.
	ErrOverloaded = errors.New("webhook: receiver overloaded")
)

// errorStatus is the single table from reason to HTTP status used by the receiving
// side. Duplicates answer 2xx so the sender stops retrying a message that was already
// handled; a message still in flight answers 409 so the sender tries again later.
var errorStatus = []struct {
	err    error
	status int
}{
	{ErrMissingHeaders, http.StatusBadRequest},
	{ErrInvalidHeader, http.StatusBadRequest},
	{ErrInvalidTimestamp, http.StatusBadRequest},
	{ErrInvalidSignature, http.StatusUnauthorized},
	{ErrTimestampTooOld, http.StatusUnauthorized},
	{ErrTimestampTooNew, http.StatusUnauthorized},
	{ErrSourceNotAllowed, http.StatusForbidden},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge},
	{ErrReplay, http.StatusOK},
	{ErrInFlight, http.StatusConflict},
	{ErrOverloaded, http.StatusServiceUnavailable},
}

// ErrorStatus returns the HTTP status the middleware answers for err, and the
// sentinel error that decided it (nil when none matched, with status 500). Custom
// error handlers use it to keep the same mapping.
func ErrorStatus(err error) (int, error) {
	for _, e := range errorStatus {
		if errors.Is(err, e.err) {
			return e.status, e.err
		}
	}
	return http.StatusInternalServerError, nil
}

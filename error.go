package hookd

import (
	"errors"
	"fmt"
)

// Code classifies an Error. The api package maps each code to one HTTP status in a
// single table.
type Code string

// Error codes. Their string values are part of the public API: they appear in the
// "code" field of error bodies.
const (
	ECONFLICT       Code = "conflict"          // 409: unique key already used
	EINTERNAL       Code = "internal"          // 500
	EINVALID        Code = "validation"        // 422: well-formed request, invalid values
	EBADREQUEST     Code = "bad_request"       // 400: malformed request
	ENOTFOUND       Code = "not_found"         // 404
	EUNAUTHORIZED   Code = "authentication"    // 401
	EFORBIDDEN      Code = "forbidden"         // 403
	ETOOLARGE       Code = "payload_too_large" // 413
	ERATELIMITED    Code = "rate_limited"      // 429
	EUNAVAILABLE    Code = "unavailable"       // 503
	ESTORAGEFULL    Code = "storage_full"      // 507: the database's disk is full
	EIDEMPOTENTBUSY Code = "idempotency_conflict"
	EPAYLOADEXPIRED Code = "payload_expired" // 410: retention purged the payload
)

// Error is hookd's one application error. Message is safe to show to API clients.
type Error struct {
	Code    Code
	Message string
	// Field names the offending input field for validation errors, if any.
	Field string
	// Err is the underlying cause; it is logged, never shown to clients.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error about one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsNotFound reports whether err carries ENOTFOUND.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }

// IsConflict reports whether err carries ECONFLICT.
func IsConflict(err error) bool { return ErrorCode(err) == ECONFLICT }

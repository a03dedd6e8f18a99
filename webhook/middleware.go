package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Defaults of the Middleware.
const (
	// DefaultMaxBodyBytes is the body limit when Middleware.MaxBodyBytes is zero.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultLease is how long a message being handled blocks its duplicates when
	// Middleware.Lease is zero.
	DefaultLease = time.Minute
	// DefaultRetention is how long a handled message ID is remembered when
	// Middleware.Retention is zero. It covers the Standard Webhooks retry schedule
	// (about 28 hours from first to last attempt) with room to spare.
	DefaultRetention = 72 * time.Hour
	// inFlightRetryAfter is the Retry-After, in seconds, sent with ErrInFlight.
	inFlightRetryAfter = 10
)

// Middleware verifies incoming webhooks before the wrapped handler sees them. For
// each request it, in order:
//
//  1. checks the client address against Sources, if any (403);
//  2. reads the raw body once, at most MaxBodyBytes (413);
//  3. verifies headers, timestamp tolerance and signature with Verifier, before
//     anything parses the body (400 for missing or malformed headers, 401 for a bad
//     signature or a timestamp outside the tolerance);
//  4. claims the message ID in Store, if set: a message already handled answers 200
//     without calling the handler, so the sender stops retrying, and one being
//     handled right now answers 409 with Retry-After;
//  5. calls the handler with r.Body replaced by the verified bytes and the Message
//     in the context (see MessageFromContext). A 2xx response completes the claim;
//     any other response, or a panic, releases it so the sender's retry is handled.
//
// Rejections never echo secrets or signatures. The zero value is not usable: set
// Verifier.
type Middleware struct {
	// Verifier checks the signatures. Required.
	Verifier *Verifier
	// MaxBodyBytes limits the request body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Store de-duplicates messages by ID; nil turns de-duplication off. Messages
	// without an ID (possible with profiles that do not sign one) are not
	// de-duplicated. When the profile does not sign the ID (github, hmac-*-hex,
	// stripe), someone who captured a request can replay it under a new ID; only the
	// signed timestamp (stripe) limits that.
	Store IdempotencyStore
	// Lease is how long a message being handled blocks its duplicates; zero means
	// DefaultLease. Set it above the handler's longest run.
	Lease time.Duration
	// Retention is how long handled message IDs are remembered; zero means
	// DefaultRetention.
	Retention time.Duration
	// Sources, if not empty, lists the networks requests may come from.
	Sources []netip.Prefix
	// TrustedProxies lists the proxies whose X-Forwarded-For header is believed
	// when checking Sources. Without it the header is ignored and the connection's
	// address is the client, since anyone can send the header.
	TrustedProxies []netip.Prefix
	// ErrorFunc writes the response for a rejected request; nil means WriteError.
	// The error wraps one of the package's sentinel errors, or a store failure.
	ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)
	// Logger, if set, receives rejections (debug level) and store failures (error).
	Logger *slog.Logger
}

type messageKey struct{}

// MessageFromContext returns the verified message that Middleware stored in the
// request's context.
func MessageFromContext(ctx context.Context) (Message, bool) {
	m, ok := ctx.Value(messageKey{}).(Message)
	return m, ok
}

// ContextWithMessage returns a copy of ctx carrying m, for tests of handlers that
// expect Middleware in front of them.
func ContextWithMessage(ctx context.Context, m Message) context.Context {
	return context.WithValue(ctx, messageKey{}, m)
}

// WriteError answers a rejected request with the status ErrorStatus gives for err and
// a one-line text body naming the reason (never the secret or the signature).
func WriteError(w http.ResponseWriter, err error) {
	status, reason := ErrorStatus(err)
	text := "webhook: internal error"
	if reason != nil {
		text = reason.Error()
	}
	if errors.Is(err, ErrInFlight) {
		w.Header().Set("Retry-After", strconv.Itoa(inFlightRetryAfter))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, text+"\n")
}

// Wrap returns a handler that verifies requests before passing them to next. It
// panics if m.Verifier is nil.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	if m.Verifier == nil {
		panic("webhook: Middleware.Verifier is nil")
	}
	cfg := *m // later changes to m do not race with requests
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.ErrorFunc == nil {
		cfg.ErrorFunc = func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, err) }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cfg.serve(w, r, next) })
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	msg, err := m.accept(w, r)
	if err != nil {
		m.reject(w, r, err)
		return
	}
	r2 := r.WithContext(ContextWithMessage(r.Context(), msg))
	body := msg.Body
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r2.ContentLength = int64(len(body))

	if m.Store == nil || msg.ID == "" {
		next.ServeHTTP(w, r2)
		return
	}
	state, err := m.Store.Claim(r.Context(), msg.ID, m.Lease)
	switch {
	case err != nil:
		m.reject(w, r, fmt.Errorf("idempotency store: claim: %w", err))
		return
	case state == Completed:
		m.reject(w, r, fmt.Errorf("%w: id %s", ErrReplay, msg.ID))
		return
	case state == InFlight:
		m.reject(w, r, fmt.Errorf("%w: id %s", ErrInFlight, msg.ID))
		return
	}

	rec := &statusRecorder{ResponseWriter: w}
	ctx := context.WithoutCancel(r.Context())
	completed := false
	defer func() {
		if completed {
			return
		}
		// The handler failed or panicked: let the sender's retry through.
		if err := m.Store.Release(ctx, msg.ID); err != nil {
			m.logError(r, "release webhook id", msg.ID, err)
		}
	}()
	next.ServeHTTP(rec, r2)
	if rec.status == 0 || (rec.status >= 200 && rec.status < 300) {
		completed = true
		if err := m.Store.Complete(ctx, msg.ID, m.Retention); err != nil {
			m.logError(r, "complete webhook id", msg.ID, err)
		}
	}
}

// accept runs the checks that precede the handler.
func (m *Middleware) accept(w http.ResponseWriter, r *http.Request) (Message, error) {
	if len(m.Sources) > 0 {
		addr := ClientAddr(r, m.TrustedProxies)
		if !addr.IsValid() || !containsAddr(m.Sources, addr) {
			return Message{}, fmt.Errorf("%w: %s", ErrSourceNotAllowed, addr)
		}
	}
	body, err := readBody(w, r, m.MaxBodyBytes)
	if err != nil {
		return Message{}, err
	}
	return m.Verifier.VerifyMessage(r.Header, body)
}

func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, err error) {
	if m.Logger != nil {
		if status, _ := ErrorStatus(err); status >= 500 {
			m.Logger.ErrorContext(r.Context(), "webhook rejected", "err", err, "remote", r.RemoteAddr)
		} else {
			m.Logger.DebugContext(r.Context(), "webhook rejected", "err", err, "remote", r.RemoteAddr)
		}
	}
	m.ErrorFunc(w, r, err)
}

func (m *Middleware) logError(r *http.Request, msg, id string, err error) {
	if m.Logger != nil {
		m.Logger.ErrorContext(r.Context(), msg, "id", id, "err", err)
	}
}

// readBody reads the whole body, failing with ErrBodyTooLarge past limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("%w: limit %d bytes", ErrBodyTooLarge, limit)
	case err != nil:
		return nil, fmt.Errorf("read body: %w", err)
	}
	return buf.Bytes(), nil
}

// statusRecorder remembers the status the handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush etc.).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

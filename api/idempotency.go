package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 256

// idempotencyClaimStale is how long a claimed key stays busy without an answer before
// another request may take it over (its node died mid-request).
const idempotencyClaimStale = time.Minute

// keyLock serialises the requests of one idempotency key on this node.
type keyLock struct {
	mu   sync.Mutex
	refs int
}

// idempotent answers a POST that carries an Idempotency-Key: the first request runs and
// its successful answer is stored under the key (scoped by token and path); a repeated
// request gets that answer again, status and body, without running.
func (s *Server) idempotent(tokenHash string, rt route, w http.ResponseWriter, r *http.Request) error {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return &hookd.Error{Code: hookd.EINVALID, Message: "Idempotency-Key is longer than 256 characters",
			Err: &validationError{loc: []string{"header", "idempotency-key"}, typ: "value_error", msg: "Idempotency-Key is longer than 256 characters"}}
	}
	sum := sha256.Sum256([]byte(tokenHash + "\x00" + r.URL.Path + "\x00" + key))
	scoped := hex.EncodeToString(sum[:])

	unlock := s.lockKey(scoped)
	defer unlock()

	// The claim makes one request of a key run across every node sharing the store.
	ctx := r.Context()
	prev, err := s.store.ClaimIdempotencyKey(ctx, scoped, s.now(), idempotencyClaimStale)
	if err != nil {
		return err
	}
	if prev != nil {
		replay(w, prev)
		return nil
	}
	saved := false
	defer func() {
		if !saved {
			// A failed request leaves the key free for the client's retry.
			_ = s.store.ReleaseIdempotencyKey(context.WithoutCancel(ctx), scoped)
		}
	}()
	rec := &recorder{header: http.Header{}}
	if err := rt.handle(s, rec, r); err != nil {
		return err
	}
	if rec.status < 200 || rec.status > 299 {
		replay(w, &hookd.IdempotentResponse{StatusCode: rec.status, ContentType: rec.header.Get("Content-Type"), Body: rec.body.Bytes()})
		return nil
	}
	stored, err := s.store.SaveIdempotentResponse(ctx, &hookd.IdempotentResponse{
		Key: scoped, StatusCode: rec.status, ContentType: rec.header.Get("Content-Type"),
		Body: rec.body.Bytes(), CreatedAt: s.now(),
	})
	if err != nil {
		return err
	}
	saved = true
	replay(w, stored)
	return nil
}

func (s *Server) lockKey(key string) (unlock func()) {
	s.keyMu.Lock()
	l := s.keyLocks[key]
	if l == nil {
		l = &keyLock{}
		s.keyLocks[key] = l
	}
	l.refs++
	s.keyMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.keyMu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.keyLocks, key)
		}
		s.keyMu.Unlock()
	}
}

func replay(w http.ResponseWriter, r *hookd.IdempotentResponse) {
	if r.ContentType != "" {
		w.Header().Set("Content-Type", r.ContentType)
	}
	w.WriteHeader(r.StatusCode)
	_, _ = w.Write(r.Body)
}

// recorder captures a handler's answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

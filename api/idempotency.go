package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"

	"github.com/hookd/hookd"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 256

// idempotencyClaimStale is how long a claimed key stays busy without an answer before
// another request may take it over (its node died mid-request).
const idempotencyClaimStale = hookd.IdempotencyClaimStale

// keyCtx is the context key of the scoped Idempotency-Key of a route whose handler
// stores its answer in its own transaction (route.keyInTx).
type keyCtx struct{}

// idempotencyKey returns the scoped Idempotency-Key a keyInTx handler stores its
// answer under, or "".
func idempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

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

	if rt.keyInTx {
		return s.idempotentInTx(scoped, rt, w, r)
	}

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

// idempotentInTx runs a route whose handler stores its answer under the key in the
// same transaction as its work (a message's), so that a request with a key costs
// what one without does: no claim, no second write, no read. A repeated request
// finds the key taken in that transaction, writes nothing, and gets the stored
// answer; several nodes' concurrent requests are decided by the key's primary key.
func (s *Server) idempotentInTx(scoped string, rt route, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	err := rt.handle(s, w, r.WithContext(context.WithValue(ctx, keyCtx{}, scoped)))
	if re, ok := errors.AsType[*hookd.IdempotentReplay](err); ok {
		replay(w, re.Response)
		return nil
	}
	if err != nil && hookd.ErrorCode(err) != hookd.EIDEMPOTENTBUSY {
		// A repeated request that fails before its transaction (its application was
		// deleted since, say) still gets the answer its key holds.
		if prev, perr := s.store.IdempotentResponse(context.WithoutCancel(ctx), scoped); perr == nil {
			replay(w, prev)
			return nil
		}
	}
	return err
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

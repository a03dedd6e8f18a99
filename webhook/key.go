package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// hmacKey holds one HMAC key with pooled, pre-keyed hash states, so signing does not
// pay for hmac.New (two hash allocations and the pad computation) on every message.
type hmacKey struct {
	pool sync.Pool // of *macState
}

// macState is one pre-keyed HMAC with scratch space for the signed prefix and sum.
type macState struct {
	h       hash.Hash
	sum     [sha512.Size]byte
	scratch []byte
}

func newHMACKey(alg Algorithm, key []byte) *hmacKey {
	newHash := sha256.New
	if alg == HMACSHA512 {
		newHash = sha512.New
	}
	key = append([]byte(nil), key...)
	k := &hmacKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(newHash, key), scratch: make([]byte, 0, 64)} }
	return k
}

// appendMAC appends the MAC of the profile's signed content to dst.
func (k *hmacKey) appendMAC(dst []byte, c Content, id, ts string, body []byte) []byte {
	st := k.pool.Get().(*macState)
	st.h.Reset()
	st.scratch = appendSignedPrefix(st.scratch[:0], c, id, ts)
	st.h.Write(st.scratch)
	st.h.Write(body)
	dst = append(dst, st.h.Sum(st.sum[:0])...)
	k.pool.Put(st)
	return dst
}

// appendSignedPrefix appends what precedes the body in the signed content.
func appendSignedPrefix(dst []byte, c Content, id, ts string) []byte {
	switch c {
	case SignIDTimestampBody:
		dst = append(dst, id...)
		dst = append(dst, '.')
		fallthrough
	case SignTimestampBody:
		dst = append(dst, ts...)
		dst = append(dst, '.')
	}
	return dst
}

// msgPool holds buffers for Ed25519, which needs the signed content in one piece.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// signedContent returns a pooled buffer holding the whole signed content; the caller
// returns it with putContent.
func signedContent(c Content, id, ts string, body []byte) *[]byte {
	bp := msgPool.Get().(*[]byte)
	b := appendSignedPrefix((*bp)[:0], c, id, ts)
	*bp = append(b, body...)
	return bp
}

func putContent(bp *[]byte) {
	if cap(*bp) <= 1<<20 { // do not pin huge bodies in the pool
		msgPool.Put(bp)
	}
}

// signingKey is one parsed secret of a Signer.
type signingKey struct {
	hmac *hmacKey
	priv ed25519.PrivateKey
}

// verifyingKey is one parsed secret of a Verifier.
type verifyingKey struct {
	hmac *hmacKey
	pub  ed25519.PublicKey
}

// parseHMACKey turns one secret into an HMAC key according to the profile.
func parseHMACKey(p Profile, s string) ([]byte, error) {
	if p.Keys == KeyText {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
		}
		return []byte(s), nil
	}
	return ParseSecret(s)
}

func parseSigningKeys(p Profile, secrets []string) ([]signingKey, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([]signingKey, len(secrets))
	for i, s := range secrets {
		if p.Algorithm == Ed25519 {
			priv, err := ParseEd25519PrivateKey(s)
			if err != nil {
				return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
			}
			keys[i].priv = priv
			continue
		}
		k, err := parseHMACKey(p, s)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		keys[i].hmac = newHMACKey(p.Algorithm, k)
	}
	return keys, nil
}

func parseVerifyingKeys(p Profile, secrets []string) ([]verifyingKey, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([]verifyingKey, len(secrets))
	for i, s := range secrets {
		if p.Algorithm == Ed25519 {
			var pub ed25519.PublicKey
			var err error
			if strings.HasPrefix(s, PrivateKeyPrefix) {
				var priv ed25519.PrivateKey
				if priv, err = ParseEd25519PrivateKey(s); err == nil {
					pub = priv.Public().(ed25519.PublicKey)
				}
			} else {
				pub, err = ParseEd25519PublicKey(s)
			}
			if err != nil {
				return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
			}
			keys[i].pub = pub
			continue
		}
		k, err := parseHMACKey(p, s)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		keys[i].hmac = newHMACKey(p.Algorithm, k)
	}
	return keys, nil
}

package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/hookd/hookd"
)

// HashToken returns the hex SHA-256 of a bearer token: what the server stores and
// compares instead of the token itself.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// authenticate checks the request's bearer token and returns its hash.
func (s *Server) authenticate(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", hookd.Errorf(hookd.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token>")
	}
	got := HashToken(strings.TrimSpace(token))
	if s.cfg.AdminTokenHash == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminTokenHash)) != 1 {
		return "", hookd.Errorf(hookd.EUNAUTHORIZED, "invalid token")
	}
	return got, nil
}

package hookd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Token prefixes. A token's prefix tells its kind at a glance (and to a secret
// scanner); its ID prefix names it in lists and logs.
const (
	PrefixAdminKey   = "hkd_"   // an admin API key
	PrefixAppToken   = "hka_"   // an application-scoped token
	PrefixAPIKeyID   = "key_"   // the ID of an admin API key
	PrefixAppTokenID = "apptk_" // the ID of an application-scoped token
)

// MaxTokenLength bounds a bearer token: longer ones are refused before they are hashed.
const MaxTokenLength = 256

// TokenKind is what a token may reach.
type TokenKind string

// Token kinds.
const (
	// TokenAdmin is an admin API key: every application and the server-wide routes.
	TokenAdmin TokenKind = "admin"
	// TokenApp is an application-scoped token (app portal access): one application,
	// with the capabilities it was given.
	TokenApp TokenKind = "app"
)

// Capability is what an application-scoped token may do inside its application, as
// the Svix app portal names them.
type Capability string

// Capabilities of application-scoped tokens.
const (
	CapViewBase             Capability = "ViewBase"             // read everything but secrets
	CapViewEndpointSecret   Capability = "ViewEndpointSecret"   // read endpoint secrets
	CapManageEndpointSecret Capability = "ManageEndpointSecret" // read and rotate endpoint secrets
	CapManageTransformation Capability = "ManageTransformations"
	CapCreateAttempts       Capability = "CreateAttempts" // resend, recover, replay, send examples
	CapManageEndpoint       Capability = "ManageEndpoint" // change any endpoint field, secrets too
)

// AllCapabilities are the capabilities a token gets when none are asked for.
var AllCapabilities = []Capability{CapViewBase, CapViewEndpointSecret, CapManageEndpointSecret,
	CapManageTransformation, CapCreateAttempts, CapManageEndpoint}

// Token is a bearer credential as stored: only the hash of the token itself is kept.
type Token struct {
	ID   string
	Kind TokenKind
	// Name labels an admin key ("ci", "dashboard"); unique among admin keys.
	Name string
	// Hash is HashToken of the token.
	Hash string
	// ReadOnly admin keys may only read.
	ReadOnly bool
	// AppID is the application an application-scoped token reaches.
	AppID string
	// Capabilities of an application-scoped token.
	Capabilities []Capability
	// FeatureFlags of an application-scoped token, for the portal.
	FeatureFlags []string
	// SessionID optionally groups application-scoped tokens for ExpireAppTokens.
	SessionID string
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; nil never.
	ExpiresAt *time.Time
}

// Expired reports whether the token no longer works at now.
func (t *Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// Can reports whether an application-scoped token has one of caps. Admin keys have
// every capability.
func (t *Token) Can(caps ...Capability) bool {
	if t.Kind == TokenAdmin {
		return true
	}
	for _, have := range t.Capabilities {
		for _, c := range caps {
			if have == c {
				return true
			}
		}
	}
	return false
}

// NewToken returns a new bearer token: prefix and 32 random bytes, base64url.
func NewToken(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("hookd: read random bytes: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the hex SHA-256 of a bearer token: what stores keep and look up
// instead of the token. Tokens are long random strings, so a fast hash suffices.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// EqualHash compares two token hashes in constant time.
func EqualHash(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// TokenStore persists admin API keys and application-scoped tokens.
type TokenStore interface {
	// CreateToken inserts t. An admin key name already used is ECONFLICT.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose Hash is hash (expired or not), or ENOTFOUND.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Tokens lists the tokens of one kind by ID, expired ones included.
	Tokens(ctx context.Context, kind TokenKind, page Page) ([]*Token, error)
	// ExpireToken makes the token id expire at at, unless it expires earlier already.
	// An unknown id is ENOTFOUND.
	ExpireToken(ctx context.Context, id string, at time.Time) error
	// ExpireAppTokens makes every application-scoped token of appID expire at at,
	// unless it expires earlier already; with sessionIDs, only the tokens of those
	// sessions. It returns how many tokens it changed.
	ExpireAppTokens(ctx context.Context, appID string, sessionIDs []string, at time.Time) (int, error)
}

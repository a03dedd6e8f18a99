package webhook

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// Secret prefixes.
const (
	// SecretPrefix starts an HMAC secret: "whsec_" + base64 of the key.
	SecretPrefix = "whsec_"
	// PrivateKeyPrefix starts an Ed25519 signing key: "whsk_" + base64 of the
	// 64-byte private key or its 32-byte seed.
	PrivateKeyPrefix = "whsk_"
	// PublicKeyPrefix starts an Ed25519 verification key: "whpk_" + base64 of the
	// 32-byte public key.
	PublicKeyPrefix = "whpk_"
)

// Secret size limits in bytes (after base64 decoding).
const (
	// MinSecretBytes is the shortest HMAC key ParseSecret accepts.
	MinSecretBytes = 24
	// MaxSecretBytes is the longest HMAC key ParseSecret accepts.
	MaxSecretBytes = 64
)

// NewSecret returns a fresh HMAC secret: "whsec_" + base64 of 24 bytes from
// crypto/rand, the format Standard Webhooks and Svix use.
func NewSecret() (string, error) {
	var b [MinSecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// ParseSecret decodes a "whsec_" secret into its HMAC key. It rejects an empty
// string, another or missing prefix, invalid base64 and keys outside 24 to 64 bytes,
// with an error wrapping ErrInvalidSecret that says which; the error never contains
// the secret.
func ParseSecret(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty (want %s followed by base64)", ErrInvalidSecret, SecretPrefix)
	}
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: %s (want %s followed by base64)", ErrInvalidSecret, describePrefix(s), SecretPrefix)
	}
	key, err := decodeBase64(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s part is not valid base64", ErrInvalidSecret, SecretPrefix)
	}
	switch {
	case len(key) < MinSecretBytes:
		return nil, fmt.Errorf("%w: key is %d bytes, need at least %d", ErrInvalidSecret, len(key), MinSecretBytes)
	case len(key) > MaxSecretBytes:
		return nil, fmt.Errorf("%w: key is %d bytes, at most %d allowed", ErrInvalidSecret, len(key), MaxSecretBytes)
	}
	return key, nil
}

// NewEd25519Key returns a fresh Ed25519 key pair for the "v1a" profiles: the secret
// "whsk_" + base64 of the 64-byte private key, which signs, and the public key
// "whpk_" + base64 of the 32-byte public key, which receivers verify with.
func NewEd25519Key() (secret, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate ed25519 key: %w", err)
	}
	return PrivateKeyPrefix + base64.StdEncoding.EncodeToString(priv),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// ParseEd25519PrivateKey decodes a "whsk_" key holding a 64-byte private key or a
// 32-byte seed. When the key holds both halves, the public half must match the seed.
func ParseEd25519PrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := parseKey(s, PrivateKeyPrefix)
	if err != nil {
		return nil, err
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
			return nil, fmt.Errorf("%w: %s key's public half does not match its seed", ErrInvalidSecret, PrivateKeyPrefix)
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%w: %s key is %d bytes, want %d (seed) or %d (private key)",
		ErrInvalidSecret, PrivateKeyPrefix, len(b), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// Ed25519PublicKey returns the "whpk_" public key of a "whsk_" signing key: what a
// receiver verifies with.
func Ed25519PublicKey(secret string) (string, error) {
	priv, err := ParseEd25519PrivateKey(secret)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
}

// ParseEd25519PublicKey decodes a "whpk_" key holding a 32-byte public key.
func ParseEd25519PublicKey(s string) (ed25519.PublicKey, error) {
	b, err := parseKey(s, PublicKeyPrefix)
	if err != nil {
		return nil, err
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %s key is %d bytes, want %d", ErrInvalidSecret, PublicKeyPrefix, len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// parseKey strips prefix from s and decodes the base64 rest.
func parseKey(s, prefix string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty (want %s followed by base64)", ErrInvalidSecret, prefix)
	}
	b64, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: %s (want %s followed by base64)", ErrInvalidSecret, describePrefix(s), prefix)
	}
	b, err := decodeBase64(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s part is not valid base64", ErrInvalidSecret, prefix)
	}
	return b, nil
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// describePrefix names the prefix s has, without revealing the rest of s.
func describePrefix(s string) string {
	for _, p := range []string{SecretPrefix, PrivateKeyPrefix, PublicKeyPrefix} {
		if strings.HasPrefix(s, p) {
			return "has prefix " + p
		}
	}
	if i := strings.IndexByte(s, '_'); i > 0 && i <= 8 && isLowerAlpha(s[:i]) {
		return "has an unknown prefix" // not echoed: it could be part of a secret
	}
	return "has no prefix"
}

func isLowerAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

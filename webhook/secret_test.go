package webhook_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

func TestNewSecret(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Errorf("secret %q lacks whsec_", a)
	}
	key, err := webhook.ParseSecret(a)
	if err != nil {
		t.Fatalf("ParseSecret(NewSecret()): %v", err)
	}
	if len(key) != 24 {
		t.Errorf("key is %d bytes, want 24", len(key))
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name    string
		in      string
		wantLen int
		errText string // substring of the error; "" means success
	}{
		{"vector 1", kaSecret, 24, ""},
		{"64 bytes", "whsec_" + b64(64), 64, ""},
		{"unpadded", "whsec_" + strings.TrimRight(b64(32), "="), 32, ""},
		{"empty", "", 0, "empty"},
		{"prefix only", "whsec_", 0, "need at least 24"},
		{"too short", "whsec_" + b64(23), 0, "23 bytes, need at least 24"},
		{"too long", "whsec_" + b64(65), 0, "at most 64"},
		{"bad base64", "whsec_not*base64!", 0, "not valid base64"},
		{"no prefix", b64(24), 0, "has no prefix"},
		{"private key prefix", "whsk_" + b64(32), 0, "has prefix whsk_"},
		{"public key prefix", "whpk_" + b64(32), 0, "has prefix whpk_"},
		{"unknown prefix", "whfoo_" + b64(24), 0, "unknown prefix"},
		{"upper case prefix", "WHSEC_" + b64(24), 0, "has no prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := webhook.ParseSecret(tc.in)
			if tc.errText == "" {
				if err != nil || len(key) != tc.wantLen {
					t.Fatalf("ParseSecret = %d bytes, %v; want %d bytes", len(key), err, tc.wantLen)
				}
				return
			}
			if !errors.Is(err, webhook.ErrInvalidSecret) || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("ParseSecret error = %v, want ErrInvalidSecret mentioning %q", err, tc.errText)
			}
			if rest := strings.TrimPrefix(tc.in, "whsec_"); len(rest) > 4 && strings.Contains(err.Error(), rest) {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func TestEd25519Keys(t *testing.T) {
	secret, public, err := webhook.NewEd25519Key()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := webhook.ParseEd25519PrivateKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := webhook.ParseEd25519PublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("public key does not match the private key")
	}

	t.Run("round trip", func(t *testing.T) {
		p := mustProfile(t, "standard-ed25519")
		h := http.Header{}
		mustSigner(t, p, secret).Sign(h, "msg_1", time.Unix(kaTimestamp, 0), []byte("hi"))
		v := mustVerifier(t, p, []string{public}, webhook.WithClock(fixedClock(kaTimestamp)))
		if err := v.Verify(h, []byte("hi")); err != nil {
			t.Fatal(err)
		}
	})

	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	mismatched := append(append([]byte{}, priv.Seed()...), make([]byte, 32)...)
	tests := []struct {
		name    string
		parse   func(string) error
		in      string
		errText string
	}{
		{"private empty", parsePriv, "", "empty"},
		{"private with public prefix", parsePriv, public, "has prefix whpk_"},
		{"private bad base64", parsePriv, "whsk_***", "not valid base64"},
		{"private wrong size", parsePriv, "whsk_" + b64(make([]byte, 31)), "31 bytes"},
		{"private halves mismatch", parsePriv, "whsk_" + b64(mismatched), "does not match"},
		{"public empty", parsePub, "", "empty"},
		{"public with secret prefix", parsePub, secret, "has prefix whsk_"},
		{"public wrong size", parsePub, "whpk_" + b64(make([]byte, 33)), "33 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			if !errors.Is(err, webhook.ErrInvalidSecret) || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("error = %v, want ErrInvalidSecret mentioning %q", err, tc.errText)
			}
		})
	}
}

func parsePriv(s string) error { _, err := webhook.ParseEd25519PrivateKey(s); return err }
func parsePub(s string) error  { _, err := webhook.ParseEd25519PublicKey(s); return err }

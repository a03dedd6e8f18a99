package webhook_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// signed returns the headers and body of a message signed with profile name.
func signed(t *testing.T, name string, secrets ...string) (http.Header, []byte) {
	t.Helper()
	h := http.Header{}
	body := []byte(kaBody)
	mustSigner(t, mustProfile(t, name), secrets...).Sign(h, kaID, time.Unix(kaTimestamp, 0), body)
	return h, body
}

// flipBit returns s with the lowest bit of byte i flipped.
func flipBit(s string, i int) string {
	b := []byte(s)
	b[i] ^= 1
	return string(b)
}

func TestVerifyRejects(t *testing.T) {
	type mutation func(h http.Header, body []byte) (http.Header, []byte)
	setHeader := func(name string, f func(string) string) mutation {
		return func(h http.Header, body []byte) (http.Header, []byte) {
			h.Set(name, f(h.Get(name)))
			return h, body
		}
	}
	del := func(name string) mutation {
		return func(h http.Header, body []byte) (http.Header, []byte) { h.Del(name); return h, body }
	}
	tests := []struct {
		name    string
		profile string
		secret  string
		verify  string
		mutate  mutation
		clock   int64 // verifier's clock; default kaTimestamp
		want    error
	}{
		{name: "body bit flipped", mutate: func(h http.Header, b []byte) (http.Header, []byte) {
			b[10] ^= 1
			return h, b
		}, want: webhook.ErrInvalidSignature},
		{name: "body truncated", mutate: func(h http.Header, b []byte) (http.Header, []byte) { return h, b[:len(b)-1] },
			want: webhook.ErrInvalidSignature},
		{name: "body empty", mutate: func(h http.Header, b []byte) (http.Header, []byte) { return h, nil },
			want: webhook.ErrInvalidSignature},
		{name: "signature bit flipped", mutate: setHeader("webhook-signature", func(s string) string { return flipBit(s, 10) }),
			want: webhook.ErrInvalidSignature},
		{name: "signature truncated", mutate: setHeader("webhook-signature", func(s string) string { return s[:len(s)-4] }),
			want: webhook.ErrInvalidSignature},
		{name: "signature only prefix", mutate: setHeader("webhook-signature", func(string) string { return "v1," }),
			want: webhook.ErrInvalidSignature},
		{name: "signature unknown version only", mutate: setHeader("webhook-signature", func(s string) string { return "v2" + s[2:] }),
			want: webhook.ErrInvalidSignature},
		{name: "signature not base64", mutate: setHeader("webhook-signature", func(string) string { return "v1,!!!!" }),
			want: webhook.ErrInvalidSignature},
		{name: "id bit flipped", mutate: setHeader("webhook-id", func(s string) string { return flipBit(s, 5) }),
			want: webhook.ErrInvalidSignature},
		{name: "timestamp one second off", mutate: setHeader("webhook-timestamp", func(s string) string { return flipBit(s, len(s)-1) }),
			want: webhook.ErrInvalidSignature},
		{name: "timestamp bit flipped far into the future", mutate: setHeader("webhook-timestamp", func(s string) string { return flipBit(s, 1) }),
			want: webhook.ErrTimestampTooNew},
		{name: "timestamp bit flipped far into the past", mutate: setHeader("webhook-timestamp", func(s string) string { return flipBit(s, 0) }),
			want: webhook.ErrTimestampTooOld},
		{name: "timestamp not a number", mutate: setHeader("webhook-timestamp", func(s string) string { return s + "x" }),
			want: webhook.ErrInvalidTimestamp},
		{name: "timestamp negative", mutate: setHeader("webhook-timestamp", func(s string) string { return "-" + s }),
			want: webhook.ErrInvalidTimestamp},
		{name: "expired", clock: kaTimestamp + 301, want: webhook.ErrTimestampTooOld},
		{name: "from the future", clock: kaTimestamp - 301, want: webhook.ErrTimestampTooNew},
		{name: "missing id", mutate: del("webhook-id"), want: webhook.ErrMissingHeaders},
		{name: "missing timestamp", mutate: del("webhook-timestamp"), want: webhook.ErrMissingHeaders},
		{name: "missing signature", mutate: del("webhook-signature"), want: webhook.ErrMissingHeaders},
		{name: "wrong secret", verify: kaOldSecret, want: webhook.ErrInvalidSignature},
		{name: "svix headers for standard profile", profile: "svix", verify: kaSecret, want: webhook.ErrMissingHeaders},

		{name: "ed25519 body bit flipped", profile: "standard-ed25519", secret: kaEdSeed, verify: kaEdPub,
			mutate: func(h http.Header, b []byte) (http.Header, []byte) { b[0] ^= 1; return h, b }, want: webhook.ErrInvalidSignature},
		{name: "ed25519 signature bit flipped", profile: "standard-ed25519", secret: kaEdSeed, verify: kaEdPub,
			mutate: setHeader("webhook-signature", func(s string) string { return flipBit(s, 20) }), want: webhook.ErrInvalidSignature},
		{name: "ed25519 v1 entry only", profile: "standard-ed25519", secret: kaEdSeed, verify: kaEdPub,
			mutate: setHeader("webhook-signature", func(s string) string { return "v1," + s[4:] }), want: webhook.ErrInvalidSignature},

		{name: "github body bit flipped", profile: "github", secret: kaText,
			mutate: func(h http.Header, b []byte) (http.Header, []byte) { b[3] ^= 1; return h, b }, want: webhook.ErrInvalidSignature},
		{name: "github signature bit flipped", profile: "github", secret: kaText,
			mutate: setHeader("X-Hub-Signature-256", func(s string) string { return flipBit(s, 12) }), want: webhook.ErrInvalidSignature},
		{name: "github without prefix", profile: "github", secret: kaText,
			mutate: setHeader("X-Hub-Signature-256", func(s string) string { return s[len("sha256="):] }), want: webhook.ErrInvalidSignature},
		{name: "github missing header", profile: "github", secret: kaText, mutate: del("X-Hub-Signature-256"), want: webhook.ErrMissingHeaders},
		{name: "hmac-sha512-hex truncated", profile: "hmac-sha512-hex", secret: kaText,
			mutate: setHeader("webhook-signature", func(s string) string { return s[:len(s)-2] }), want: webhook.ErrInvalidSignature},
		{name: "hmac-sha256-hex odd length", profile: "hmac-sha256-hex", secret: kaText,
			mutate: setHeader("webhook-signature", func(s string) string { return s[:len(s)-1] }), want: webhook.ErrInvalidSignature},

		{name: "stripe expired", profile: "stripe", secret: kaStripeSecret, clock: kaTimestamp + 301, want: webhook.ErrTimestampTooOld},
		{name: "stripe from the future", profile: "stripe", secret: kaStripeSecret, clock: kaTimestamp - 301, want: webhook.ErrTimestampTooNew},
		{name: "stripe t changed", profile: "stripe", secret: kaStripeSecret,
			mutate: setHeader("Stripe-Signature", func(s string) string { return strings.Replace(s, "t=1674087231", "t=1674087232", 1) }),
			want:   webhook.ErrInvalidSignature},
		{name: "stripe without t", profile: "stripe", secret: kaStripeSecret,
			mutate: setHeader("Stripe-Signature", func(s string) string { return s[len("t=1674087231,"):] }), want: webhook.ErrInvalidHeader},
		{name: "stripe conflicting t", profile: "stripe", secret: kaStripeSecret,
			mutate: setHeader("Stripe-Signature", func(s string) string { return s + ",t=1" }), want: webhook.ErrInvalidHeader},
		{name: "stripe only v0", profile: "stripe", secret: kaStripeSecret,
			mutate: setHeader("Stripe-Signature", func(s string) string { return strings.Replace(s, "v1=", "v0=", 1) }), want: webhook.ErrInvalidSignature},
		{name: "stripe signature bit flipped", profile: "stripe", secret: kaStripeSecret,
			mutate: setHeader("Stripe-Signature", func(s string) string { return flipBit(s, 30) }), want: webhook.ErrInvalidSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			profile, secret, verify, clock := tc.profile, tc.secret, tc.verify, tc.clock
			if profile == "" {
				profile = "standard"
			}
			if secret == "" {
				secret = kaSecret
			}
			if verify == "" {
				verify = secret
			}
			if clock == 0 {
				clock = kaTimestamp
			}
			h, body := signed(t, profile, secret)
			if tc.profile == "svix" {
				profile = "standard"
			}
			if tc.mutate != nil {
				h, body = tc.mutate(h, body)
			}
			v := mustVerifier(t, mustProfile(t, profile), []string{verify}, webhook.WithClock(fixedClock(clock)))
			err := v.Verify(h, body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		secrets []string
		mutate  func(h http.Header)
		opts    []webhook.VerifyOption
	}{
		{name: "exactly at the past limit", opts: []webhook.VerifyOption{webhook.WithClock(fixedClock(kaTimestamp + 300))}},
		{name: "exactly at the future limit", opts: []webhook.VerifyOption{webhook.WithClock(fixedClock(kaTimestamp - 300))}},
		{name: "wider tolerance", opts: []webhook.VerifyOption{webhook.WithClock(fixedClock(kaTimestamp + 3600)), webhook.WithTolerance(time.Hour)}},
		{name: "timestamp check off", opts: []webhook.VerifyOption{webhook.WithClock(fixedClock(kaTimestamp + 1e6)), webhook.WithoutTimestampCheck()}},
		{name: "old secret of a rotation", secrets: []string{"whsec_" + strings.Repeat("A", 32), kaSecret}},
		{name: "unknown versions and garbage skipped", mutate: func(h http.Header) {
			h.Set("webhook-signature", "v2,abc v1,!!! v1a,xyz \t"+h.Get("webhook-signature")+"  v3,zzz")
		}},
		{name: "signature split over two header lines", mutate: func(h http.Header) {
			h["Webhook-Signature"] = []string{"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", h.Get("webhook-signature")}
		}},
		{name: "github uppercase hex", profile: "github", secrets: []string{kaText}, mutate: func(h http.Header) {
			h.Set("X-Hub-Signature-256", "sha256="+strings.ToUpper(h.Get("X-Hub-Signature-256")[7:]))
		}},
		{name: "github without webhook-id", profile: "github", secrets: []string{kaText}, mutate: func(h http.Header) {
			h.Del("webhook-id")
			h.Del("webhook-timestamp")
		}},
		{name: "github ignores stale unsigned timestamp", profile: "github", secrets: []string{kaText},
			opts: []webhook.VerifyOption{webhook.WithClock(fixedClock(kaTimestamp + 1e6))}},
		{name: "stripe with spaces and extra keys", profile: "stripe", secrets: []string{kaStripeSecret}, mutate: func(h http.Header) {
			h.Set("Stripe-Signature", strings.ReplaceAll(h.Get("Stripe-Signature"), ",", ", ")+",v0=abcd")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			profile, secrets := tc.profile, tc.secrets
			if profile == "" {
				profile = "standard"
			}
			if secrets == nil {
				secrets = []string{kaSecret}
			}
			h, body := signed(t, profile, kaSecretFor(profile))
			if tc.mutate != nil {
				tc.mutate(h)
			}
			opts := append([]webhook.VerifyOption{webhook.WithClock(fixedClock(kaTimestamp))}, tc.opts...)
			v := mustVerifier(t, mustProfile(t, profile), secrets, opts...)
			if err := v.Verify(h, body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func kaSecretFor(profile string) string {
	switch profile {
	case "github", "hmac-sha256-hex", "hmac-sha512-hex":
		return kaText
	case "stripe":
		return kaStripeSecret
	case "standard-ed25519", "svix-ed25519":
		return kaEdSeed
	}
	return kaSecret
}

func TestNewVerifierErrors(t *testing.T) {
	std := mustProfile(t, "standard")
	tests := []struct {
		name    string
		profile webhook.Profile
		secrets []string
		opts    []webhook.VerifyOption
		want    error
	}{
		{"no secrets", std, nil, nil, webhook.ErrInvalidSecret},
		{"empty secret", std, []string{""}, nil, webhook.ErrInvalidSecret},
		{"empty text secret", mustProfile(t, "github"), []string{""}, nil, webhook.ErrInvalidSecret},
		{"bad second secret", std, []string{kaSecret, "whsec_short"}, nil, webhook.ErrInvalidSecret},
		{"ed25519 with hmac secret", mustProfile(t, "standard-ed25519"), []string{kaSecret}, nil, webhook.ErrInvalidSecret},
		{"zero tolerance", std, []string{kaSecret}, []webhook.VerifyOption{webhook.WithTolerance(0)}, webhook.ErrInvalidOption},
		{"nil clock", std, []string{kaSecret}, []webhook.VerifyOption{webhook.WithClock(nil)}, webhook.ErrInvalidOption},
		{"zero profile", webhook.Profile{}, []string{kaSecret}, nil, webhook.ErrInvalidProfile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.NewVerifier(tc.profile, tc.secrets, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("NewVerifier = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("signer without secrets", func(t *testing.T) {
		if _, err := webhook.NewSigner(std); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Fatalf("NewSigner = %v, want ErrInvalidSecret", err)
		}
	})
	t.Run("signer with public key", func(t *testing.T) {
		if _, err := webhook.NewSigner(mustProfile(t, "standard-ed25519"), kaEdPub); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Fatalf("NewSigner = %v, want ErrInvalidSecret", err)
		}
	})
}

func TestSignReplacesHeaders(t *testing.T) {
	s := mustSigner(t, mustProfile(t, "standard"), kaSecret)
	h := http.Header{}
	h.Add("webhook-signature", "v1,stale")
	h.Set("Content-Type", "application/json")
	s.Sign(h, kaID, time.Unix(kaTimestamp, 0), []byte(kaBody))
	if got := h.Values("webhook-signature"); len(got) != 1 || got[0] != "v1,w9M0lg6mBsZRy+7b5VdD8Keekf/tMSmW4JzkP8b8hDc=" {
		t.Errorf("signature values = %q", got)
	}
	if h.Get("Content-Type") != "application/json" {
		t.Error("Sign touched an unrelated header")
	}
}

func TestSignerConcurrent(t *testing.T) {
	for _, name := range webhook.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			p := mustProfile(t, name)
			s := mustSigner(t, p, kaSecretFor(name))
			want, _ := signed(t, name, kaSecretFor(name))
			done := make(chan http.Header)
			for range 8 {
				go func() {
					h := http.Header{}
					for range 50 {
						s.Sign(h, kaID, time.Unix(kaTimestamp, 0), []byte(kaBody))
					}
					done <- h
				}()
			}
			for range 8 {
				if h := <-done; h.Get(p.SignatureHeader) != want.Get(p.SignatureHeader) {
					t.Errorf("concurrent signature %q, want %q", h.Get(p.SignatureHeader), want.Get(p.SignatureHeader))
				}
			}
		})
	}
}

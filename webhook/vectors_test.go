package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// Inputs shared by the known-answer tests of every profile.
const (
	kaID        = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	kaTimestamp = 1674087231
	kaBody      = `{"type":"invoice.paid","data":{"id":"inv_123","amount":4200}}`
	// kaSecret and kaOldSecret are the secrets of Standard Webhooks vectors 1 and 2.
	kaSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	kaOldSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	// kaText is the example secret of GitHub's documentation, used by the KeyText
	// profiles.
	kaText = "It's a Secret to Everybody"
	// kaStripeSecret and kaStripeOld are text secrets in Stripe's style.
	kaStripeSecret = "whsec_test_secret_for_stripe_style"
	kaStripeOld    = "whsec_previous_secret"
	// The Ed25519 key of RFC 8032 section 7.1, test 1, as seed, full private key and
	// public key.
	kaEdSeed = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
	kaEdFull = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg=="
	kaEdPub  = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
)

// fixedClock returns a clock stopped at Unix second sec.
func fixedClock(sec int64) func() time.Time {
	t := time.Unix(sec, 0)
	return func() time.Time { return t }
}

func mustProfile(t testing.TB, name string) webhook.Profile {
	t.Helper()
	p, err := webhook.LookupProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSigner(t testing.TB, p webhook.Profile, secrets ...string) *webhook.Signer {
	t.Helper()
	s, err := webhook.NewSigner(p, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustVerifier(t testing.TB, p webhook.Profile, secrets []string, opts ...webhook.VerifyOption) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(p, secrets, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStandardWebhooksVectors checks the vectors of
// shared/reference/standard-webhooks-vectors.txt, copied from the Standard Webhooks
// libraries.
func TestStandardWebhooksVectors(t *testing.T) {
	positive := []struct {
		name, secret, id string
		ts               int64
		body, want       string
	}{
		{"vector1", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
			`{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"vector2", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553,
			`{"email":"test@example.com","username":"test_user"}`, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="},
	}
	for _, tc := range positive {
		t.Run(tc.name+"/sign", func(t *testing.T) {
			h := http.Header{}
			mustSigner(t, mustProfile(t, "standard"), tc.secret).Sign(h, tc.id, time.Unix(tc.ts, 0), []byte(tc.body))
			if got := h.Get("webhook-signature"); got != tc.want {
				t.Errorf("signature = %q, want %q", got, tc.want)
			}
		})
		t.Run(tc.name+"/verify", func(t *testing.T) {
			v := mustVerifier(t, mustProfile(t, "standard"), []string{tc.secret}, webhook.WithClock(fixedClock(tc.ts)))
			h := standardHeaders(tc.id, tc.ts, tc.want)
			if err := v.Verify(h, []byte(tc.body)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}

	negative := []struct {
		name, secret, id string
		ts               int64
		body, sig        string
	}{
		{"vector3 one char off", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
			`{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="},
		{"vector4 wrong signature", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553,
			`{"email":"test@example.com","username":"test_user"}`, "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU="},
		{"partial signature", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
			`{"test": 2432232314}`, "v1,"},
	}
	for _, tc := range negative {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, mustProfile(t, "standard"), []string{tc.secret}, webhook.WithClock(fixedClock(tc.ts)))
			err := v.Verify(standardHeaders(tc.id, tc.ts, tc.sig), []byte(tc.body))
			if !errors.Is(err, webhook.ErrInvalidSignature) {
				t.Errorf("Verify = %v, want ErrInvalidSignature", err)
			}
		})
	}

	t.Run("vector5 multi signature", func(t *testing.T) {
		const (
			id   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
			body = `{"test": 2432232314}`
		)
		now := time.Now().Unix()
		h := http.Header{}
		s := mustSigner(t, mustProfile(t, "standard"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		s.Sign(h, id, time.Unix(now, 0), []byte(body))
		valid := h.Get("webhook-signature")
		const other = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
		header := "v1," + other + " v2," + other + " " + valid + " v1," + other
		v := mustVerifier(t, mustProfile(t, "standard"), []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
		if err := v.Verify(standardHeaders(id, now, header), []byte(body)); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})

	t.Run("tolerance boundaries with the real clock", func(t *testing.T) {
		// As in the Go library's tests: now-5min fails because the wall clock has a
		// fraction of a second past the whole second, now+5min+1s fails outright.
		const id, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", `{"test": 2432232314}`
		now := time.Unix(time.Now().Unix(), 500_000_000)
		v := mustVerifier(t, mustProfile(t, "standard"), []string{kaSecret}, webhook.WithClock(func() time.Time { return now }))
		s := mustSigner(t, mustProfile(t, "standard"), kaSecret)
		for _, ts := range []time.Time{now.Add(-5 * time.Minute), now.Add(5*time.Minute + time.Second)} {
			h := http.Header{}
			s.Sign(h, id, ts, []byte(body))
			if err := v.Verify(h, []byte(body)); err == nil {
				t.Errorf("Verify at %v from now passed, want a timestamp error", ts.Sub(now))
			}
		}
	})
}

func standardHeaders(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", formatInt(ts))
	h.Set("webhook-signature", sig)
	return h
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

// TestProfileVectors signs and verifies fixed inputs with every built-in profile.
// The expected values were computed independently of this package with Python 3:
//
//	import hmac, hashlib, base64
//	c = b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.1674087231." + body          # standard
//	"v1," + base64.b64encode(hmac.new(base64.b64decode(secret[6:]), c, hashlib.sha256).digest())
//	"sha256=" + hmac.new(b"It's a Secret to Everybody", body, hashlib.sha256).hexdigest()  # github
//	"sha512=" + hmac.new(key, body, hashlib.sha512).hexdigest()                            # hmac-sha512-hex
//	"t=1674087231,v1=" + hmac.new(key, b"1674087231." + body, hashlib.sha256).hexdigest()  # stripe
//
// and, for Ed25519, with the cryptography package:
// Ed25519PrivateKey.from_private_bytes(rfc8032_test1_seed).sign(c).
func TestProfileVectors(t *testing.T) {
	tests := []struct {
		profile  string
		secrets  []string // signer's secrets; the verifier gets verify or the same
		verify   []string
		header   string
		want     string
		body     string // default kaBody
		sigCount int
	}{
		{profile: "standard", secrets: []string{kaSecret}, header: "webhook-signature",
			want: "v1,w9M0lg6mBsZRy+7b5VdD8Keekf/tMSmW4JzkP8b8hDc="},
		{profile: "standard", secrets: []string{kaSecret, kaOldSecret}, header: "webhook-signature",
			want: "v1,w9M0lg6mBsZRy+7b5VdD8Keekf/tMSmW4JzkP8b8hDc= v1,H6I2vGSsWscWANbMk6A44IkOS63FFLgVur5EW4RGFJ4="},
		{profile: "svix", secrets: []string{kaSecret}, header: "svix-signature",
			want: "v1,w9M0lg6mBsZRy+7b5VdD8Keekf/tMSmW4JzkP8b8hDc="},
		{profile: "standard-ed25519", secrets: []string{kaEdSeed}, verify: []string{kaEdPub}, header: "webhook-signature",
			want: "v1a,elfqls0bJJZoxuEBPrZW0MaWouXXu4uR2loY6+Xmf01FAaw4b7xHg3DqSy7BfmVZL9KUyv4aOL/7uq+07ScBDw=="},
		{profile: "standard-ed25519", secrets: []string{kaEdFull}, verify: []string{kaEdPub}, header: "webhook-signature",
			want: "v1a,elfqls0bJJZoxuEBPrZW0MaWouXXu4uR2loY6+Xmf01FAaw4b7xHg3DqSy7BfmVZL9KUyv4aOL/7uq+07ScBDw=="},
		{profile: "svix-ed25519", secrets: []string{kaEdSeed}, verify: []string{kaEdFull}, header: "svix-signature",
			want: "v1a,elfqls0bJJZoxuEBPrZW0MaWouXXu4uR2loY6+Xmf01FAaw4b7xHg3DqSy7BfmVZL9KUyv4aOL/7uq+07ScBDw=="},
		// GitHub's documented example ("Hello, World!" with their example secret).
		{profile: "github", secrets: []string{kaText}, header: "X-Hub-Signature-256", body: "Hello, World!",
			want: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{profile: "github", secrets: []string{kaText}, header: "X-Hub-Signature-256",
			want: "sha256=382dbbb08be06d24b5f74a1d108eb666db4de62e05b9e6693905d43eb662258d"},
		// Single-value profiles sign with the current secret only.
		{profile: "github", secrets: []string{kaText, "previous"}, header: "X-Hub-Signature-256",
			want: "sha256=382dbbb08be06d24b5f74a1d108eb666db4de62e05b9e6693905d43eb662258d"},
		{profile: "hmac-sha256-hex", secrets: []string{kaText}, header: "webhook-signature",
			want: "382dbbb08be06d24b5f74a1d108eb666db4de62e05b9e6693905d43eb662258d"},
		{profile: "hmac-sha512-hex", secrets: []string{kaText}, header: "webhook-signature",
			want: "sha512=263b0718cf6ef97313d922371b70f385f526c727b7f5fc33ad07f94d55586057e8f64759d911042a9202093eceeaa17d24a7a16034727c3d02f39f9d9b6ebb56"},
		{profile: "stripe", secrets: []string{kaStripeSecret}, header: "Stripe-Signature",
			want: "t=1674087231,v1=818cbd0ba322c240160ddb7cfa45d114877c71e12dcb5bcb5a3a98b5a5aa9d1d"},
		{profile: "stripe", secrets: []string{kaStripeSecret, kaStripeOld}, header: "Stripe-Signature",
			want: "t=1674087231,v1=818cbd0ba322c240160ddb7cfa45d114877c71e12dcb5bcb5a3a98b5a5aa9d1d,v1=d83887c1fff4d7144f696a8e18fadc0d51bcf0d8a628e4ac2edc7d2bfdd53ee3"},
	}
	for _, tc := range tests {
		name := tc.profile + "/" + formatInt(int64(len(tc.secrets))) + "key"
		if tc.body != "" {
			name += "/docs-example"
		}
		t.Run(name, func(t *testing.T) {
			body := []byte(kaBody)
			if tc.body != "" {
				body = []byte(tc.body)
			}
			p := mustProfile(t, tc.profile)
			h := http.Header{}
			mustSigner(t, p, tc.secrets...).Sign(h, kaID, time.Unix(kaTimestamp, 0), body)
			if got := h.Get(tc.header); got != tc.want {
				t.Errorf("%s = %q\nwant %q", tc.header, got, tc.want)
			}
			if got := h.Get(p.IDHeader); got != kaID {
				t.Errorf("%s = %q, want %q", p.IDHeader, got, kaID)
			}
			if got := h.Get(p.TimestampHeader); got != "1674087231" {
				t.Errorf("%s = %q, want 1674087231", p.TimestampHeader, got)
			}

			verify := tc.verify
			if verify == nil {
				verify = tc.secrets
			}
			// Each secret alone verifies the header (the receiver may not have rotated).
			for i := range verify {
				if i > 0 && !p.MultiSignature {
					break
				}
				v := mustVerifier(t, p, verify[i:i+1], webhook.WithClock(fixedClock(kaTimestamp+60)))
				m, err := v.VerifyMessage(h, body)
				if err != nil {
					t.Fatalf("verify with secret %d: %v", i, err)
				}
				if m.ID != kaID || m.Timestamp.Unix() != kaTimestamp || string(m.Body) != string(body) {
					t.Errorf("message = %+v", m)
				}
			}
		})
	}
}

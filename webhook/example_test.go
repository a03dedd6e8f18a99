package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookd/hookd/webhook"
)

// Signing a message with the standard profile (Standard Webhooks vector 1).
func ExampleSigner_Sign() {
	p, _ := webhook.LookupProfile("standard")
	signer, err := webhook.NewSigner(p, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	signer.Sign(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	fmt.Println("webhook-id:", h.Get("webhook-id"))
	fmt.Println("webhook-timestamp:", h.Get("webhook-timestamp"))
	fmt.Println("webhook-signature:", h.Get("webhook-signature"))
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// During a rotation the header carries one signature per secret.
func ExampleNewSigner_rotation() {
	p, _ := webhook.LookupProfile("standard")
	signer, _ := webhook.NewSigner(p,
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // current
		"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", // previous, still in its grace period
	)
	h := http.Header{}
	signer.Sign(h, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Unix(1674087231, 0),
		[]byte(`{"type":"invoice.paid","data":{"id":"inv_123","amount":4200}}`))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		fmt.Println(sig)
	}
	// Output:
	// v1,w9M0lg6mBsZRy+7b5VdD8Keekf/tMSmW4JzkP8b8hDc=
	// v1,H6I2vGSsWscWANbMk6A44IkOS63FFLgVur5EW4RGFJ4=
}

// Verifying a request; the clock is fixed so the example's timestamp is fresh.
func ExampleVerifier_Verify() {
	p, _ := webhook.LookupProfile("standard")
	v, err := webhook.NewVerifier(p, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		webhook.WithClock(func() time.Time { return time.Unix(1614265330+10, 0) }))
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v2,ignored v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	fmt.Println(v.Verify(h, []byte(`{"test": 2432232314}`)))

	err = v.Verify(h, []byte(`{"test": 2432232315}`))
	fmt.Println(errors.Is(err, webhook.ErrInvalidSignature))
	// Output:
	// <nil>
	// true
}

// Verifying a GitHub-style webhook (the example from GitHub's documentation).
func ExampleLookupProfile_github() {
	p, _ := webhook.LookupProfile("github")
	v, _ := webhook.NewVerifier(p, []string{"It's a Secret to Everybody"})
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	fmt.Println(v.Verify(h, []byte("Hello, World!")))
	// Output: <nil>
}

// Stripe-style signatures carry their own timestamp.
func ExampleLookupProfile_stripe() {
	p, _ := webhook.LookupProfile("stripe")
	signer, _ := webhook.NewSigner(p, "whsec_test_secret_for_stripe_style")
	h := http.Header{}
	signer.Sign(h, "msg_1", time.Unix(1674087231, 0), []byte(`{"type":"invoice.paid","data":{"id":"inv_123","amount":4200}}`))
	fmt.Println(h.Get("Stripe-Signature"))
	// Output: t=1674087231,v1=818cbd0ba322c240160ddb7cfa45d114877c71e12dcb5bcb5a3a98b5a5aa9d1d
}

// A new key pair for the Ed25519 ("v1a") profile.
func ExampleNewEd25519Key() {
	secret, public, err := webhook.NewEd25519Key()
	if err != nil {
		panic(err)
	}
	fmt.Println(secret[:5], public[:5])
	// Output: whsk_ whpk_
}

// A generated secret and what ParseSecret makes of it.
func ExampleNewSecret() {
	secret, _ := webhook.NewSecret()
	key, _ := webhook.ParseSecret(secret)
	fmt.Println(secret[:6], len(key))

	_, err := webhook.ParseSecret("whsec_dG9vc2hvcnQ=")
	fmt.Println(err)
	// Output:
	// whsec_ 24
	// webhook: invalid secret: key is 8 bytes, need at least 24
}

// A receiver: the middleware verifies and de-duplicates before the handler runs.
func ExampleMiddleware() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	p, _ := webhook.LookupProfile("standard")
	verifier, _ := webhook.NewVerifier(p, []string{secret})
	mw := &webhook.Middleware{
		Verifier: verifier,
		Store:    webhook.NewMemoryStore(0, nil),
	}
	handler := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg, _ := webhook.MessageFromContext(r.Context())
		body, _ := io.ReadAll(r.Body) // the verified bytes
		fmt.Printf("handling %s: %s\n", msg.ID, body)
	}))

	// What a sender does.
	signer, _ := webhook.NewSigner(p, secret)
	send := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(body))
		signer.Sign(req.Header, "msg_1", time.Now(), []byte(body))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		return w.Code
	}
	fmt.Println(send(`{"n":1}`))
	fmt.Println(send(`{"n":1}`)) // a retry of the same message: acknowledged, not handled again
	// Output:
	// handling msg_1: {"n":1}
	// 200
	// 200
}

// Slow work runs after the sender has had its 202.
func ExampleAckFast() {
	ack := webhook.NewAckFast(webhook.AckFastConfig{Workers: 2, QueueSize: 100},
		func(ctx context.Context, m webhook.Message) error {
			fmt.Printf("processing %s\n", m.Body)
			return nil
		})

	w := httptest.NewRecorder()
	ack.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"slow":true}`)))
	fmt.Println(w.Code)
	ack.Close(context.Background()) // waits for queued work
	// Unordered output:
	// 202
	// processing {"slow":true}
}

// The hmac-sha512-hex profile in the header a receiver already reads. The value was
// computed independently with
// printf '%s' '{"event":"ping"}' | openssl dgst -sha512 -hmac s3cret.
func ExampleProfile_WithSignatureHeader() {
	p, _ := webhook.LookupProfile("hmac-sha512-hex")
	p = p.WithSignatureHeader("X-Signature")
	signer, _ := webhook.NewSigner(p, "s3cret")
	h := http.Header{}
	signer.Sign(h, "msg_1", time.Unix(1674087231, 0), []byte(`{"event":"ping"}`))
	fmt.Println(h.Get("X-Signature"))

	verifier, _ := webhook.NewVerifier(p, []string{"s3cret"})
	fmt.Println(verifier.Verify(h, []byte(`{"event":"ping"}`)))
	// Output:
	// sha512=95cc3f3c89820d5b1d0c52c7700859c99452e85b89abb9465a4b62b2d58a1c1f7ea7b357370ef746ac21449a09c95e05b348bb244f7e41b3cae616b9c1a6f99f
	// <nil>
}

// A scheme of one's own is a Profile literal: here base64 HMAC-SHA256 over
// "timestamp.body" in X-Acme-Signature, with the timestamp in X-Acme-Timestamp. The
// value was computed independently with
// printf '%s' '1674087231.{"event":"ping"}' | openssl dgst -sha256 -hmac acme-secret -binary | base64.
func ExampleProfile() {
	p := webhook.Profile{
		Name:            "acme",
		SignatureHeader: "X-Acme-Signature",
		IDHeader:        "X-Acme-Id",
		TimestampHeader: "X-Acme-Timestamp",
		Algorithm:       webhook.HMACSHA256,
		Encoding:        webhook.Base64,
		Content:         webhook.SignTimestampBody,
		Layout:          webhook.LayoutList,
		Keys:            webhook.KeyText,
	}
	signer, err := webhook.NewSigner(p, "acme-secret")
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	signer.Sign(h, "msg_1", time.Unix(1674087231, 0), []byte(`{"event":"ping"}`))
	fmt.Println(h.Get("X-Acme-Signature"))

	// The timestamp is signed, so the tolerance applies to it.
	verifier, _ := webhook.NewVerifier(p, []string{"acme-secret"},
		webhook.WithClock(func() time.Time { return time.Unix(1674087231, 0).Add(time.Hour) }))
	err = verifier.Verify(h, []byte(`{"event":"ping"}`))
	fmt.Println(errors.Is(err, webhook.ErrTimestampTooOld))
	// Output:
	// 2W3YUURtbjaEZnvA05DozLg7QE5+PHaT6Hq8+rNgsP8=
	// true
}

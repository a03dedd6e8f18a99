// Package webhook signs and verifies webhooks. hookd's server signs every request
// with it, and receivers import it (it needs only the standard library) to verify
// what hookd, or another provider, sends them.
//
// # Schemes
//
// A Profile describes a signature scheme as data: the header, the algorithm
// (HMAC-SHA256, HMAC-SHA512, Ed25519), the encoding (base64, hex), the prefix,
// what is signed (raw body, "id.timestamp.body", "timestamp.body") and the header
// layout. Built-in profiles, found with LookupProfile:
//
//	standard          Standard Webhooks v1: webhook-id, webhook-timestamp,
//	                  webhook-signature: v1,<base64 HMAC-SHA256("id.timestamp.body")>
//	svix              the same with svix-id, svix-timestamp, svix-signature
//	standard-ed25519  Standard Webhooks v1a: v1a,<base64 Ed25519 signature>
//	svix-ed25519      the same with svix-* headers
//	hmac-sha512-hex   webhook-signature: sha512=<hex HMAC-SHA512(body)>
//	hmac-sha256-hex   webhook-signature: <hex HMAC-SHA256(body)>
//	github            X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>
//	stripe            Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256("t.body")>
//
// The header of hmac-* profiles is configurable with Profile.WithSignatureHeader.
// Whatever the profile, the Signer also sets webhook-id and webhook-timestamp (or
// the svix-* pair), so receivers can de-duplicate. Those headers are authenticated
// only when the profile signs them: standard profiles sign both, stripe signs the
// timestamp (inside its own header), the others sign neither.
//
// # Secrets
//
// HMAC secrets of the standard profiles are "whsec_" + base64 of 24 to 64 random
// bytes (NewSecret, ParseSecret). Ed25519 uses "whsk_" private keys to sign and
// "whpk_" public keys to verify (NewEd25519Key). The github, stripe and hmac-*-hex
// profiles use the secret string's bytes verbatim as the HMAC key, as those
// providers' receivers do, so any non-empty string works there.
//
// # Rotation
//
// NewSigner takes the current secret first, then the previous ones still in their
// grace period. Standard profiles put one signature per secret in the header,
// space separated; stripe repeats "v1=" entries; receivers accept the request when
// any signature matches. github and hmac-*-hex headers hold a single value that
// receivers compare whole, so there the Signer signs with the current secret only
// and rotation happens on the receiving side: the receiver verifies with both
// secrets (NewVerifier takes several) until the sender has switched.
//
// # Verification
//
// A Verifier checks the signatures in constant time, skips signature versions it
// does not know, and rejects timestamps more than the tolerance (default 5 minutes,
// WithTolerance) away from its clock (WithClock) in either direction. Every failure
// wraps one of the exported sentinel errors (ErrMissingHeaders, ErrInvalidHeader,
// ErrInvalidTimestamp, ErrInvalidSignature, ErrTimestampTooOld,
// ErrTimestampTooNew, ...) for errors.Is.
//
// # Receiving
//
// Middleware wraps an http.Handler: it reads the raw body once with a size limit,
// verifies it before anything parses it, optionally checks the client address
// against an allowlist, de-duplicates message IDs through an IdempotencyStore
// (MemoryStore here; hookd's sqlite and postgres packages have durable ones) and
// hands the handler the verified body in r.Body and the Message in the context.
// AckFast answers 2xx at once and runs slow work on a bounded worker pool.
package webhook

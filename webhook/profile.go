package webhook

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Algorithm is the primitive a profile signs with.
type Algorithm uint8

// The supported signature algorithms.
const (
	// HMACSHA256 is HMAC with SHA-256 (32-byte signatures).
	HMACSHA256 Algorithm = iota + 1
	// HMACSHA512 is HMAC with SHA-512 (64-byte signatures).
	HMACSHA512
	// Ed25519 is the Ed25519 signature scheme (64-byte signatures), Standard Webhooks "v1a".
	Ed25519
)

// String returns the algorithm's conventional name.
func (a Algorithm) String() string {
	switch a {
	case HMACSHA256:
		return "hmac-sha256"
	case HMACSHA512:
		return "hmac-sha512"
	case Ed25519:
		return "ed25519"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// Encoding is how signature bytes are written in a header.
type Encoding uint8

// The supported signature encodings.
const (
	// Base64 is standard base64 with padding (RFC 4648 section 4). Verification
	// accepts only the canonical form: padded, with zero padding bits.
	Base64 Encoding = iota + 1
	// Hex is lowercase hexadecimal; verification also accepts upper case.
	Hex
)

// String returns the encoding's name.
func (e Encoding) String() string {
	switch e {
	case Base64:
		return "base64"
	case Hex:
		return "hex"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// Content says which bytes a profile signs.
type Content uint8

// The supported signed contents.
const (
	// SignBody signs the raw request body alone.
	SignBody Content = iota + 1
	// SignIDTimestampBody signs "<id>.<unix timestamp>.<body>" (Standard Webhooks).
	SignIDTimestampBody
	// SignTimestampBody signs "<unix timestamp>.<body>" (Stripe).
	SignTimestampBody
)

// String returns a short description of the signed content.
func (c Content) String() string {
	switch c {
	case SignBody:
		return "body"
	case SignIDTimestampBody:
		return "id.timestamp.body"
	case SignTimestampBody:
		return "timestamp.body"
	}
	return fmt.Sprintf("Content(%d)", uint8(c))
}

// Layout says how signatures are arranged in the signature header's value.
type Layout uint8

// The supported header layouts.
const (
	// LayoutList is a space-separated list of entries, each Prefix followed by an
	// encoded signature ("v1,abc= v1,def="). Entries without the prefix are skipped,
	// which is how unknown Standard Webhooks versions are ignored.
	LayoutList Layout = iota + 1
	// LayoutStripe is "t=<unix timestamp>" followed by comma-separated entries, each
	// Prefix followed by an encoded signature ("t=1,v1=ab,v1=cd"). Other keys are
	// skipped. The timestamp is taken from "t=", not from a separate header.
	LayoutStripe
)

// KeyFormat says how a profile turns secret strings into keys.
type KeyFormat uint8

// The supported key formats.
const (
	// KeyStandard uses Standard Webhooks secrets: "whsec_" + base64 of 24 to 64 bytes
	// for HMAC (the decoded bytes are the key), "whsk_" / "whpk_" for Ed25519.
	KeyStandard KeyFormat = iota + 1
	// KeyText uses the secret string's bytes verbatim as the HMAC key, as GitHub and
	// Stripe receivers do. Any non-empty string is accepted, so a receiver can verify
	// with the secret another provider gave it.
	KeyText
)

// Profile describes a signature scheme as data: which header carries the signature,
// how it is computed and how it is written. The built-in profiles are listed by
// ProfileNames; a new one is a Profile literal passed to NewSigner and NewVerifier.
//
// Every profile also names an ID header and a timestamp header. The Signer always
// sets both, whatever the profile signs, so receivers can de-duplicate by message ID
// even when the scheme does not sign it. A profile whose Content does not include
// the ID or the timestamp leaves them unauthenticated: the Verifier then neither
// requires them nor applies the timestamp tolerance to them.
type Profile struct {
	// Name identifies the profile, e.g. "standard".
	Name string
	// SignatureHeader is the header carrying the signatures.
	SignatureHeader string
	// IDHeader carries the message ID ("webhook-id").
	IDHeader string
	// TimestampHeader carries the send time in Unix seconds ("webhook-timestamp").
	TimestampHeader string
	// Algorithm is the signing primitive.
	Algorithm Algorithm
	// Encoding is how signature bytes are written.
	Encoding Encoding
	// Prefix precedes every signature in the header: "v1,", "sha256=", "v1=" or "".
	Prefix string
	// Content is what is signed.
	Content Content
	// Layout is how signatures are arranged in the header.
	Layout Layout
	// Keys is how secrets become keys.
	Keys KeyFormat
	// MultiSignature reports whether the header may carry one signature per secret
	// during a rotation. When false the header carries exactly one signature, made
	// with the first (current) secret, because receivers of such schemes compare the
	// whole header value; rotation is then done on the receiving side, which verifies
	// with both the old and the new secret until the switch is complete.
	MultiSignature bool
}

// Header names used by the built-in profiles.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

// builtinProfile returns the built-in profile with the given name. It is a function
// rather than a package-level map so callers always get a fresh copy and nothing in
// the package can be changed at run time.
func builtinProfile(name string) (Profile, bool) {
	standard := Profile{
		SignatureHeader: headerWebhookSignature,
		IDHeader:        headerWebhookID,
		TimestampHeader: headerWebhookTimestamp,
		Algorithm:       HMACSHA256,
		Encoding:        Base64,
		Prefix:          "v1,",
		Content:         SignIDTimestampBody,
		Layout:          LayoutList,
		Keys:            KeyStandard,
		MultiSignature:  true,
	}
	svixHeaders := func(p Profile) Profile {
		p.SignatureHeader, p.IDHeader, p.TimestampHeader = "svix-signature", "svix-id", "svix-timestamp"
		return p
	}
	ed := standard
	ed.Algorithm, ed.Prefix = Ed25519, "v1a,"
	rawBody := func(alg Algorithm, prefix string) Profile {
		p := standard
		p.Algorithm, p.Encoding, p.Prefix = alg, Hex, prefix
		p.Content, p.Keys, p.MultiSignature = SignBody, KeyText, false
		return p
	}

	var p Profile
	switch name {
	case "standard":
		p = standard
	case "svix":
		p = svixHeaders(standard)
	case "standard-ed25519":
		p = ed
	case "svix-ed25519":
		p = svixHeaders(ed)
	case "hmac-sha256-hex":
		p = rawBody(HMACSHA256, "")
	case "hmac-sha512-hex":
		p = rawBody(HMACSHA512, "sha512=")
	case "github":
		p = rawBody(HMACSHA256, "sha256=")
		p.SignatureHeader = "X-Hub-Signature-256"
	case "stripe":
		p = rawBody(HMACSHA256, "v1=")
		p.SignatureHeader = "Stripe-Signature"
		p.Content, p.Layout, p.MultiSignature = SignTimestampBody, LayoutStripe, true
	default:
		return Profile{}, false
	}
	p.Name = name
	return p, true
}

// ProfileNames returns the names of the built-in profiles, sorted.
func ProfileNames() []string {
	names := []string{
		"github", "hmac-sha256-hex", "hmac-sha512-hex", "standard", "standard-ed25519",
		"stripe", "svix", "svix-ed25519",
	}
	sort.Strings(names)
	return names
}

// LookupProfile returns the built-in profile with the given name. The empty name
// means "standard". An unknown name returns an error wrapping ErrUnknownProfile that
// lists the known ones.
func LookupProfile(name string) (Profile, error) {
	if name == "" {
		name = "standard"
	}
	p, ok := builtinProfile(name)
	if !ok {
		return Profile{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownProfile, name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}

// WithSignatureHeader returns a copy of p that carries its signatures in the named
// header, for receivers that expect them somewhere else (for example
// "X-Signature" with the hmac-sha256-hex profile).
func (p Profile) WithSignatureHeader(name string) Profile {
	p.SignatureHeader = name
	return p
}

// Validate reports whether p is complete and consistent.
func (p Profile) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidProfile, p.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Name == "":
		return bad("name is empty")
	case !validHeaderName(p.SignatureHeader):
		return bad("signature header %q is not a valid header name", p.SignatureHeader)
	case !validHeaderName(p.IDHeader):
		return bad("ID header %q is not a valid header name", p.IDHeader)
	case !validHeaderName(p.TimestampHeader):
		return bad("timestamp header %q is not a valid header name", p.TimestampHeader)
	}
	sig, id, ts := http.CanonicalHeaderKey(p.SignatureHeader), http.CanonicalHeaderKey(p.IDHeader), http.CanonicalHeaderKey(p.TimestampHeader)
	if sig == id || sig == ts || id == ts {
		return bad("signature, ID and timestamp headers must differ")
	}
	switch p.Algorithm {
	case HMACSHA256, HMACSHA512:
	case Ed25519:
		if p.Keys != KeyStandard {
			return bad("ed25519 needs standard keys (whsk_/whpk_)")
		}
	default:
		return bad("unknown algorithm %v", p.Algorithm)
	}
	if p.Encoding != Base64 && p.Encoding != Hex {
		return bad("unknown encoding %v", p.Encoding)
	}
	if p.Content < SignBody || p.Content > SignTimestampBody {
		return bad("unknown content %v", p.Content)
	}
	if p.Keys != KeyStandard && p.Keys != KeyText {
		return bad("unknown key format %d", p.Keys)
	}
	switch p.Layout {
	case LayoutList:
		if strings.ContainsAny(p.Prefix, " \t") {
			return bad("prefix %q contains a space, which separates entries", p.Prefix)
		}
	case LayoutStripe:
		if p.Prefix == "" || strings.Contains(p.Prefix, ",") || strings.HasPrefix(p.Prefix, "t=") {
			return bad("stripe layout needs a non-empty prefix without commas that is not \"t=\"")
		}
		if p.Content == SignIDTimestampBody {
			return bad("stripe layout carries no ID; sign body or timestamp.body")
		}
	default:
		return bad("unknown layout %d", p.Layout)
	}
	return nil
}

// validHeaderName reports whether s is a non-empty HTTP token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// sigSize returns the length in bytes of one raw signature.
func (p Profile) sigSize() int {
	if p.Algorithm == HMACSHA256 {
		return 32
	}
	return 64
}

// encodedSize returns the length of one encoded signature.
func (p Profile) encodedSize() int {
	if p.Encoding == Hex {
		return 2 * p.sigSize()
	}
	return (p.sigSize() + 2) / 3 * 4
}

// signsTimestamp reports whether the timestamp is part of the signed content.
func (p Profile) signsTimestamp() bool { return p.Content != SignBody }

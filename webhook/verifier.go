package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a signed timestamp may be from the verifier's clock, in
// either direction, unless WithTolerance says otherwise.
const DefaultTolerance = 5 * time.Minute

// maxEncodedSig bounds a signature entry worth decoding; longer entries cannot match.
const maxEncodedSig = 128

// maxRawSig is the most that maxEncodedSig characters decode to.
const maxRawSig = maxEncodedSig / 4 * 3

// Message is what a successful verification yields.
type Message struct {
	// ID is the message ID header's value. It is authenticated only when the profile
	// signs it (Content SignIDTimestampBody); it may be empty for other profiles.
	ID string
	// Timestamp is the send time. It is authenticated and within the tolerance when
	// the profile signs it; otherwise it is the unsigned timestamp header, or zero.
	Timestamp time.Time
	// Body is the raw request body, exactly as signed.
	Body []byte
}

// VerifyOption configures a Verifier.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	tolerance time.Duration
	noCheck   bool
	now       func() time.Time
}

// WithTolerance sets how far a signed timestamp may be from now, in either
// direction; d must be positive. The default is DefaultTolerance (5 minutes). A
// timestamp exactly at the limit passes.
func WithTolerance(d time.Duration) VerifyOption {
	return func(c *verifyConfig) { c.tolerance = d }
}

// WithoutTimestampCheck turns the tolerance check off. The signature still covers the
// timestamp. It is meant for tools that check captured requests after the fact; a
// receiver that uses it is open to replays of old requests.
func WithoutTimestampCheck() VerifyOption {
	return func(c *verifyConfig) { c.noCheck = true }
}

// WithClock sets the clock the tolerance is measured against (time.Now by default).
func WithClock(now func() time.Time) VerifyOption {
	return func(c *verifyConfig) { c.now = now }
}

// Verifier checks the signatures of incoming webhooks for one sender. It is safe for
// concurrent use.
type Verifier struct {
	p                    Profile
	keys                 []verifyingKey
	cfg                  verifyConfig
	idKey, tsKey, sigKey string
}

// NewVerifier returns a Verifier for profile p that accepts a signature made with any
// of secrets (list the new and the old one during a rotation). HMAC profiles take the
// same secrets as NewSigner; Ed25519 profiles take "whpk_" public keys (a "whsk_"
// private key also works, its public half is used).
func NewVerifier(p Profile, secrets []string, opts ...VerifyOption) (*Verifier, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cfg := verifyConfig{tolerance: DefaultTolerance, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tolerance <= 0 {
		return nil, fmt.Errorf("%w: tolerance must be positive, got %s (use WithoutTimestampCheck to turn the check off)", ErrInvalidOption, cfg.tolerance)
	}
	if cfg.now == nil {
		return nil, fmt.Errorf("%w: clock is nil", ErrInvalidOption)
	}
	keys, err := parseVerifyingKeys(p, secrets)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		p:      p,
		keys:   keys,
		cfg:    cfg,
		idKey:  http.CanonicalHeaderKey(p.IDHeader),
		tsKey:  http.CanonicalHeaderKey(p.TimestampHeader),
		sigKey: http.CanonicalHeaderKey(p.SignatureHeader),
	}, nil
}

// Profile returns the verifier's profile.
func (v *Verifier) Profile() Profile { return v.p }

// Verify reports whether body and the headers in h carry a valid signature with a
// timestamp within the tolerance. The error wraps one of ErrMissingHeaders,
// ErrInvalidHeader, ErrInvalidTimestamp, ErrTimestampTooOld, ErrTimestampTooNew or
// ErrInvalidSignature. h must use canonical keys, as net/http's request headers do.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	_, err := v.VerifyMessage(h, body)
	return err
}

// VerifyMessage is Verify that also returns the verified message's metadata.
func (v *Verifier) VerifyMessage(h http.Header, body []byte) (Message, error) {
	sigVals := h[v.sigKey]
	id := firstValue(h[v.idKey])
	tsText := firstValue(h[v.tsKey])

	if err := v.checkPresent(sigVals, id, tsText); err != nil {
		return Message{}, err
	}
	if v.p.Layout == LayoutStripe {
		var err error
		if tsText, err = stripeTimestamp(sigVals); err != nil {
			return Message{}, err
		}
	}

	msg := Message{ID: id, Body: body}
	if tsText != "" {
		ts, err := ParseTimestamp(tsText)
		if err != nil && v.p.signsTimestamp() {
			return Message{}, err
		}
		msg.Timestamp = ts
	}
	if v.p.signsTimestamp() && !v.cfg.noCheck {
		if err := v.checkTolerance(msg.Timestamp); err != nil {
			return Message{}, err
		}
	}
	if err := v.match(sigVals, id, tsText, body); err != nil {
		return Message{}, err
	}
	return msg, nil
}

// checkPresent reports the headers the profile needs that are missing.
func (v *Verifier) checkPresent(sigVals []string, id, tsText string) error {
	var missing []string
	if firstValue(sigVals) == "" {
		missing = append(missing, v.p.SignatureHeader)
	}
	if v.p.Content == SignIDTimestampBody && id == "" {
		missing = append(missing, v.p.IDHeader)
	}
	if v.p.signsTimestamp() && v.p.Layout != LayoutStripe && tsText == "" {
		missing = append(missing, v.p.TimestampHeader)
	}
	if missing != nil {
		return fmt.Errorf("%w: %s (profile %s)", ErrMissingHeaders, strings.Join(missing, ", "), v.p.Name)
	}
	return nil
}

func (v *Verifier) checkTolerance(ts time.Time) error {
	now := v.cfg.now()
	if d := now.Sub(ts); d > v.cfg.tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrTimestampTooOld, d.Truncate(time.Second), v.cfg.tolerance)
	}
	if d := ts.Sub(now); d > v.cfg.tolerance {
		return fmt.Errorf("%w: signed %s ahead of this clock, tolerance %s", ErrTimestampTooNew, d.Truncate(time.Second), v.cfg.tolerance)
	}
	return nil
}

// match reports whether any signature entry in the header matches any key. Entries
// with another prefix (unknown versions) are skipped. Comparisons of HMACs are
// constant time.
func (v *Verifier) match(sigVals []string, id, ts string, body []byte) error {
	var expBuf [4][64]byte
	var expected [][64]byte
	var content *[]byte
	if v.p.Algorithm == Ed25519 {
		content = signedContent(v.p.Content, id, ts, body)
		defer putContent(content)
	} else {
		expected = expBuf[:0]
		if len(v.keys) > len(expBuf) {
			expected = make([][64]byte, 0, len(v.keys))
		}
		for i := range v.keys {
			expected = expected[:i+1]
			v.keys[i].hmac.appendMAC(expected[i][:0], v.p.Content, id, ts, body)
		}
	}
	size := v.p.sigSize()

	it := sigIter{vals: sigVals, prefix: v.p.Prefix, sep: ' '}
	if v.p.Layout == LayoutStripe {
		it.sep = ','
	}
	seen := 0
	for cand, ok := it.next(); ok; cand, ok = it.next() {
		seen++
		var raw [maxRawSig]byte
		n, ok := decodeSignature(v.p.Encoding, cand, &raw, v.p.encodedSize())
		if !ok || n != size {
			continue
		}
		for i := range v.keys {
			if content != nil {
				if ed25519.Verify(v.keys[i].pub, *content, raw[:n]) {
					return nil
				}
			} else if hmac.Equal(raw[:n], expected[i][:n]) {
				return nil
			}
		}
	}
	if seen == 0 {
		return fmt.Errorf("%w: %s has no entry starting with %q", ErrInvalidSignature, v.p.SignatureHeader, v.p.Prefix)
	}
	return fmt.Errorf("%w: none of %d %q entries matched", ErrInvalidSignature, seen, v.p.Prefix)
}

// ParseTimestamp parses a webhook timestamp: Unix seconds as 1 to 18 decimal digits,
// with no sign, space or fraction. The error wraps ErrInvalidTimestamp.
func ParseTimestamp(s string) (time.Time, error) {
	if len(s) == 0 || len(s) > 18 {
		return time.Time{}, fmt.Errorf("%w: want 1 to 18 decimal digits of Unix seconds, got %d characters", ErrInvalidTimestamp, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("%w: want decimal Unix seconds, found %q at offset %d", ErrInvalidTimestamp, s[i], i)
		}
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // unreachable with 18 digits; kept for safety
		return time.Time{}, fmt.Errorf("%w: %v", ErrInvalidTimestamp, err)
	}
	return time.Unix(sec, 0), nil
}

// stripeTimestamp returns the "t=" value of a Stripe-style header. A header with no
// "t=" or with two different ones is malformed.
func stripeTimestamp(vals []string) (string, error) {
	ts := ""
	it := sigIter{vals: vals, prefix: "t=", sep: ','}
	for t, ok := it.next(); ok; t, ok = it.next() {
		if ts != "" && t != ts {
			return "", fmt.Errorf("%w: conflicting t= entries", ErrInvalidHeader)
		}
		ts = t
	}
	if ts == "" {
		return "", fmt.Errorf("%w: no t= entry", ErrInvalidHeader)
	}
	return ts, nil
}

// sigIter walks the entries of header values separated by sep (space or tab also
// separate list entries), yielding the rest of every entry that starts with prefix.
type sigIter struct {
	vals   []string
	cur    string
	prefix string
	sep    byte
}

func (it *sigIter) next() (string, bool) {
	for {
		for it.cur == "" {
			if len(it.vals) == 0 {
				return "", false
			}
			it.cur, it.vals = it.vals[0], it.vals[1:]
		}
		var entry string
		if i := it.index(); i >= 0 {
			entry, it.cur = it.cur[:i], it.cur[i+1:]
		} else {
			entry, it.cur = it.cur, ""
		}
		entry = strings.TrimSpace(entry)
		if rest, ok := strings.CutPrefix(entry, it.prefix); ok && entry != "" {
			return rest, true
		}
	}
}

func (it *sigIter) index() int {
	for i := 0; i < len(it.cur); i++ {
		if c := it.cur[i]; c == it.sep || (it.sep == ' ' && c == '\t') {
			return i
		}
	}
	return -1
}

// strictBase64 rejects non-zero padding bits. Without it the last character of a
// signature has several spellings that decode to the same bytes (up to 16 for an
// Ed25519 signature), so a signature with one bit flipped could still verify.
var strictBase64 = base64.StdEncoding.Strict()

// decodeSignature decodes one encoded signature into raw without allocating. Only
// the canonical length is accepted: base64 with its padding, hex with two digits per
// byte; the base64 decoder would otherwise skip embedded CR and LF characters.
func decodeSignature(enc Encoding, s string, raw *[maxRawSig]byte, want int) (int, bool) {
	if len(s) != want || len(s) == 0 || len(s) > maxEncodedSig {
		return 0, false
	}
	var src [maxEncodedSig]byte
	n := copy(src[:], s)
	var err error
	if enc == Hex {
		n, err = hex.Decode(raw[:], src[:n])
	} else {
		n, err = strictBase64.Decode(raw[:], src[:n])
	}
	return n, err == nil
}

func firstValue(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

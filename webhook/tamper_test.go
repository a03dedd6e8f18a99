package webhook_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// profileCase is a signed message of one built-in profile and a verifier for it.
type profileCase struct {
	name    string
	p       webhook.Profile
	secret  string // signs
	verify  string // verifies
	h       http.Header
	body    []byte
	sigText string // the signature header's value
}

func newProfileCase(t testing.TB, name string) profileCase {
	t.Helper()
	c := profileCase{name: name, p: mustProfile(t, name), secret: kaSecretFor(name), body: []byte(kaBody), h: http.Header{}}
	c.verify = c.secret
	if c.p.Algorithm == webhook.Ed25519 {
		c.verify = kaEdPub
	}
	mustSigner(t, c.p, c.secret).Sign(c.h, kaID, time.Unix(kaTimestamp, 0), c.body)
	c.sigText = c.h.Get(c.p.SignatureHeader)
	return c
}

func (c profileCase) verifier(t testing.TB, clock int64) *webhook.Verifier {
	return mustVerifier(t, c.p, []string{c.verify}, webhook.WithClock(fixedClock(clock)))
}

// signsID and signsTimestamp say whether the ID header and the timestamp header are
// authenticated. Stripe signs its timestamp, but the one inside Stripe-Signature.
func (c profileCase) signsID() bool { return c.p.Content == webhook.SignIDTimestampBody }
func (c profileCase) signsTimestampHeader() bool {
	return c.p.Content != webhook.SignBody && c.p.Layout != webhook.LayoutStripe
}

// TestTamperEveryProfile flips every bit of every signed input, one at a time, for
// every built-in profile, and checks that verification fails with the right reason.
// It also pins down what each profile leaves unauthenticated.
func TestTamperEveryProfile(t *testing.T) {
	for _, name := range webhook.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			c := newProfileCase(t, name)
			v := c.verifier(t, kaTimestamp)
			if err := v.Verify(c.h, c.body); err != nil {
				t.Fatalf("untouched message: %v", err)
			}

			t.Run("body bit flipped", func(t *testing.T) {
				for i := range len(c.body) * 8 {
					body := append([]byte(nil), c.body...)
					body[i/8] ^= 1 << (i % 8)
					if err := v.Verify(c.h, body); !errors.Is(err, webhook.ErrInvalidSignature) {
						t.Fatalf("bit %d of byte %d: %v, want ErrInvalidSignature", i%8, i/8, err)
					}
				}
			})

			t.Run("signature bit flipped", func(t *testing.T) {
				for i := range len(c.sigText) * 8 {
					b := []byte(c.sigText)
					b[i/8] ^= 1 << (i % 8)
					if c.p.Encoding == webhook.Hex && strings.EqualFold(string(b), c.sigText) {
						continue // the same hex digits in the other case, accepted by design
					}
					h := c.h.Clone()
					h.Set(c.p.SignatureHeader, string(b))
					err := v.Verify(h, c.body)
					if err == nil || !wrapsSentinel(err) {
						t.Fatalf("bit %d of byte %d (%q -> %q): %v, want a verification error", i%8, i/8, c.sigText[i/8], b[i/8], err)
					}
					// Outside Stripe's "t=" entry, every change is a signature mismatch.
					if c.p.Layout != webhook.LayoutStripe || i/8 >= len("t=1674087231,") {
						if !errors.Is(err, webhook.ErrInvalidSignature) {
							t.Fatalf("bit %d of byte %d: %v, want ErrInvalidSignature", i%8, i/8, err)
						}
					}
				}
			})

			t.Run("signature truncated", func(t *testing.T) {
				encoded := len(c.sigText)
				if c.p.Prefix != "" {
					encoded -= strings.LastIndex(c.sigText, c.p.Prefix) + len(c.p.Prefix)
				}
				// Down to the prefix alone; with no prefix, that is an empty header.
				for _, cut := range []int{1, 2, 4, encoded / 2, encoded} {
					h := c.h.Clone()
					h.Set(c.p.SignatureHeader, c.sigText[:len(c.sigText)-cut])
					want := webhook.ErrInvalidSignature
					if cut == len(c.sigText) {
						want = webhook.ErrMissingHeaders
					}
					if err := v.Verify(h, c.body); !errors.Is(err, want) {
						t.Fatalf("%d characters cut: %v, want %v", cut, err, want)
					}
				}
			})

			t.Run("id bit flipped", func(t *testing.T) {
				for i := range len(kaID) * 8 {
					h := c.h.Clone()
					h.Set(c.p.IDHeader, flipBitN(kaID, i))
					err := v.Verify(h, c.body)
					switch {
					case c.signsID() && !errors.Is(err, webhook.ErrInvalidSignature):
						t.Fatalf("bit %d of byte %d: %v, want ErrInvalidSignature", i%8, i/8, err)
					case !c.signsID() && err != nil:
						t.Fatalf("bit %d of byte %d: %v; the ID is not signed by %s and must not matter", i%8, i/8, err, name)
					}
				}
			})

			t.Run("timestamp bit flipped", func(t *testing.T) {
				ts := c.h.Get(c.p.TimestampHeader)
				for i := range len(ts) * 8 {
					h := c.h.Clone()
					h.Set(c.p.TimestampHeader, flipBitN(ts, i))
					err := v.Verify(h, c.body)
					switch {
					case c.signsTimestampHeader() && !isAny(err, webhook.ErrInvalidSignature, webhook.ErrInvalidTimestamp,
						webhook.ErrTimestampTooOld, webhook.ErrTimestampTooNew):
						t.Fatalf("bit %d of byte %d: %v, want a timestamp or signature error", i%8, i/8, err)
					case !c.signsTimestampHeader() && err != nil:
						t.Fatalf("bit %d of byte %d: %v; %s does not sign %s", i%8, i/8, err, name, c.p.TimestampHeader)
					}
				}
				if c.signsTimestampHeader() {
					// The lowest bit of the last digit: one second off, well within the
					// tolerance, so only the signature can catch it.
					h := c.h.Clone()
					h.Set(c.p.TimestampHeader, flipBitN(ts, (len(ts)-1)*8))
					if err := v.Verify(h, c.body); !errors.Is(err, webhook.ErrInvalidSignature) {
						t.Fatalf("timestamp one second off: %v, want ErrInvalidSignature", err)
					}
				}
			})

			t.Run("expired and future", func(t *testing.T) {
				const limit = int64(webhook.DefaultTolerance / time.Second)
				for _, tc := range []struct {
					clock int64
					want  error
				}{
					{kaTimestamp + limit + 1, webhook.ErrTimestampTooOld},
					{kaTimestamp - limit - 1, webhook.ErrTimestampTooNew},
					{kaTimestamp + 86400, webhook.ErrTimestampTooOld},
					{kaTimestamp - 86400, webhook.ErrTimestampTooNew},
				} {
					err := c.verifier(t, tc.clock).Verify(c.h, c.body)
					if c.p.Content == webhook.SignBody {
						if err != nil {
							t.Fatalf("clock %+ds: %v; %s signs no timestamp, so none is checked", tc.clock-kaTimestamp, err, name)
						}
						continue
					}
					if !errors.Is(err, tc.want) {
						t.Fatalf("clock %+ds: %v, want %v", tc.clock-kaTimestamp, err, tc.want)
					}
				}
			})

			t.Run("missing headers", func(t *testing.T) {
				for _, hdr := range []string{c.p.SignatureHeader, c.p.IDHeader, c.p.TimestampHeader} {
					h := c.h.Clone()
					h.Del(hdr)
					err := v.Verify(h, c.body)
					needed := hdr == c.p.SignatureHeader || (hdr == c.p.IDHeader && c.signsID()) ||
						(hdr == c.p.TimestampHeader && c.signsTimestampHeader())
					if needed && !errors.Is(err, webhook.ErrMissingHeaders) {
						t.Errorf("without %s: %v, want ErrMissingHeaders", hdr, err)
					}
					if !needed && err != nil {
						t.Errorf("without %s: %v; %s does not need it", hdr, err, name)
					}
					h.Set(hdr, "")
					if err2 := v.Verify(h, c.body); needed && !errors.Is(err2, webhook.ErrMissingHeaders) {
						t.Errorf("with empty %s: %v, want ErrMissingHeaders", hdr, err2)
					}
				}
			})

			t.Run("empty secret", func(t *testing.T) {
				for _, s := range []string{"", " ", "\t\n"} {
					if _, err := webhook.NewSigner(c.p, s); !errors.Is(err, webhook.ErrInvalidSecret) {
						t.Errorf("NewSigner(%q) = %v, want ErrInvalidSecret", s, err)
					}
					if _, err := webhook.NewVerifier(c.p, []string{s}); !errors.Is(err, webhook.ErrInvalidSecret) {
						t.Errorf("NewVerifier(%q) = %v, want ErrInvalidSecret", s, err)
					}
				}
				if _, err := webhook.NewVerifier(c.p, []string{c.verify, ""}); !errors.Is(err, webhook.ErrInvalidSecret) {
					t.Errorf("NewVerifier with an empty second secret = %v, want ErrInvalidSecret", err)
				}
			})

			t.Run("other key", func(t *testing.T) {
				other := map[bool]string{false: kaOldSecret, true: "whpk_" + strings.Repeat("A", 43) + "="}[c.p.Algorithm == webhook.Ed25519]
				if c.p.Keys == webhook.KeyText {
					other = c.secret + "x"
				}
				w := mustVerifier(t, c.p, []string{other}, webhook.WithClock(fixedClock(kaTimestamp)))
				if err := w.Verify(c.h, c.body); !errors.Is(err, webhook.ErrInvalidSignature) {
					t.Fatalf("verify with another key: %v, want ErrInvalidSignature", err)
				}
			})
		})
	}
}

// TestNonCanonicalBase64 checks that a base64 signature whose padding bits are not
// zero is refused: it decodes to the genuine bytes, but is not what was sent.
func TestNonCanonicalBase64(t *testing.T) {
	for _, name := range []string{"standard", "standard-ed25519"} {
		t.Run(name, func(t *testing.T) {
			c := newProfileCase(t, name)
			v := c.verifier(t, kaTimestamp)
			sig := strings.TrimRight(c.sigText, "=")
			pad := c.sigText[len(sig):]
			last := strings.IndexByte(base64Alphabet, sig[len(sig)-1])
			unused := 1<<(2*len(pad)) - 1 // padding bits in the last character
			for bits := 1; bits <= unused; bits++ {
				alt := sig[:len(sig)-1] + string(base64Alphabet[last|bits]) + pad
				h := c.h.Clone()
				h.Set(c.p.SignatureHeader, alt)
				if err := v.Verify(h, c.body); !errors.Is(err, webhook.ErrInvalidSignature) {
					t.Errorf("%q: %v, want ErrInvalidSignature", alt, err)
				}
			}
			for _, alt := range []string{sig, c.sigText + "=", sig[:10] + "\n" + sig[10:] + pad} {
				h := c.h.Clone()
				h[http.CanonicalHeaderKey(c.p.SignatureHeader)] = []string{alt}
				if err := v.Verify(h, c.body); !errors.Is(err, webhook.ErrInvalidSignature) {
					t.Errorf("%q: %v, want ErrInvalidSignature", alt, err)
				}
			}
		})
	}
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// TestMiddlewareReplayEveryProfile sends the same request twice through Middleware
// with a MemoryStore, for every built-in profile: the handler runs once. The
// signer sets webhook-id for every profile, so every profile is de-duplicated.
func TestMiddlewareReplayEveryProfile(t *testing.T) {
	for _, name := range webhook.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			c := newProfileCase(t, name)
			rc := newReceiver(t, webhook.Middleware{
				Verifier: mustVerifier(t, c.p, []string{c.verify}),
				Store:    webhook.NewMemoryStore(0, nil),
			})
			h := signNow(t, mustSigner(t, c.p, c.secret), "msg_replay_"+name, c.body)
			if status, text, _ := rc.post(t, h, c.body); status != http.StatusNoContent {
				t.Fatalf("first delivery: status %d (%s), err %v", status, text, rc.lastErr())
			}
			status, _, _ := rc.post(t, h, c.body)
			if status != http.StatusOK || !errors.Is(rc.lastErr(), webhook.ErrReplay) {
				t.Errorf("replay: status %d, err %v; want 200 and ErrReplay", status, rc.lastErr())
			}
			if n := rc.calls.Load(); n != 1 {
				t.Errorf("handler ran %d times, want 1", n)
			}
		})
	}
}

// flipBitN returns s with bit i%8 of byte i/8 flipped.
func flipBitN(s string, i int) string {
	b := []byte(s)
	b[i/8] ^= 1 << (i % 8)
	return string(b)
}

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

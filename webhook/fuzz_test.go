package webhook_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// sentinels are the reasons a verification may fail with.
var sentinels = []error{
	webhook.ErrMissingHeaders, webhook.ErrInvalidHeader, webhook.ErrInvalidTimestamp,
	webhook.ErrInvalidSignature, webhook.ErrTimestampTooOld, webhook.ErrTimestampTooNew,
}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{kaSecret, kaOldSecret, "", "whsec_", "whsec_=", "whsec_AAAA====", "whsk_AAAA", "whsec_" + strings.Repeat("A", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := webhook.ParseSecret(s)
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidSecret) {
				t.Fatalf("error %v does not wrap ErrInvalidSecret", err)
			}
			if rest := strings.TrimPrefix(s, "whsec_"); len(rest) >= 8 && strings.Contains(err.Error(), rest) {
				t.Fatalf("error %q reveals the secret", err)
			}
			return
		}
		if !strings.HasPrefix(s, "whsec_") || len(key) < 24 || len(key) > 64 {
			t.Fatalf("accepted %q as a %d-byte key", s, len(key))
		}
	})
}

func FuzzParseEd25519Key(f *testing.F) {
	for _, s := range []string{kaEdSeed, kaEdFull, kaEdPub, "", "whsk_", "whpk_AAAA", kaSecret} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if priv, err := webhook.ParseEd25519PrivateKey(s); err == nil {
			if len(priv) != 64 {
				t.Fatalf("private key of %d bytes", len(priv))
			}
		} else if !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Fatalf("error %v does not wrap ErrInvalidSecret", err)
		}
		if pub, err := webhook.ParseEd25519PublicKey(s); err == nil {
			if len(pub) != 32 {
				t.Fatalf("public key of %d bytes", len(pub))
			}
		} else if !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Fatalf("error %v does not wrap ErrInvalidSecret", err)
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"1674087231", "0", "", "-1", "+1", "1.5", " 1", "999999999999999999", "9999999999999999999", "00012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := webhook.ParseTimestamp(s)
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidTimestamp) {
				t.Fatalf("error %v does not wrap ErrInvalidTimestamp", err)
			}
			return
		}
		want, perr := strconv.ParseUint(s, 10, 63)
		if perr != nil || ts.Unix() != int64(want) || strings.TrimLeft(s, "0123456789") != "" {
			t.Fatalf("ParseTimestamp(%q) = %v", s, ts.Unix())
		}
	})
}

// FuzzVerifyHeaders feeds arbitrary header values to the verifier of every profile.
// It must never panic, every failure must wrap a sentinel, and a pass is only
// possible when the header holds the genuine signature.
func FuzzVerifyHeaders(f *testing.F) {
	names := webhook.ProfileNames()
	seeds := []struct {
		profile int
		id, ts  string
		sig     string
	}{
		{0, kaID, "1674087231", "sha256=382dbbb08be06d24b5f74a1d108eb666db4de62e05b9e6693905d43eb662258d"},
		{3, kaID, "1674087231", "v1,w9M0lg6mBsZRy+7b5VdD8Keekf/tMSmW4JzkP8b8hDc= v2,x"},
		{5, "", "", "t=1674087231,v1=818cbd0ba322c240160ddb7cfa45d114877c71e12dcb5bcb5a3a98b5a5aa9d1d"},
		{5, "", "", "t=1,t=2,v1="},
		{4, kaID, "1674087231", "v1a,elfqls0bJJZoxuEBPrZW0MaWouXXu4uR2loY6+Xmf01FAaw4b7xHg3DqSy7BfmVZL9KUyv4aOL/7uq+07ScBDw=="},
		{2, "", "", "sha512=zz"},
		{1, "", "", strings.Repeat("ab", 200)},
		{3, "x", "99999999999999999999", "v1,,, ,\t"},
	}
	for _, s := range seeds {
		f.Add(s.profile, s.id, s.ts, s.sig, []byte(kaBody))
	}
	verifiers := make([]*webhook.Verifier, len(names))
	signers := make([]*webhook.Signer, len(names))
	for i, name := range names {
		p := mustProfile(f, name)
		secret := kaSecretFor(name)
		verify := secret
		if p.Algorithm == webhook.Ed25519 {
			verify = kaEdPub
		}
		verifiers[i] = mustVerifier(f, p, []string{verify}, webhook.WithClock(fixedClock(kaTimestamp)))
		signers[i] = mustSigner(f, p, secret)
	}
	f.Fuzz(func(t *testing.T, profile int, id, ts, sig string, body []byte) {
		i := int(uint(profile) % uint(len(names)))
		p := verifiers[i].Profile()
		h := http.Header{}
		h.Set(p.IDHeader, id)
		h.Set(p.TimestampHeader, ts)
		h.Set(p.SignatureHeader, sig)
		err := verifiers[i].Verify(h, body)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// It passed: the genuine signature must be in the header.
		sec, perr := webhook.ParseTimestamp(ts)
		if p.Layout == webhook.LayoutStripe {
			return // the timestamp is inside sig; covered by the round-trip fuzz
		}
		if perr != nil {
			sec = time.Unix(kaTimestamp, 0)
		}
		want := http.Header{}
		signers[i].Sign(want, id, sec, body)
		genuine := want.Get(p.SignatureHeader)
		if !strings.Contains(strings.ToLower(sig), strings.ToLower(genuine)) {
			t.Fatalf("%s accepted %q, genuine signature %q", names[i], sig, genuine)
		}
	})
}

// FuzzSignVerifyRoundTrip checks that whatever is signed verifies, and that the same
// headers with a changed body do not.
func FuzzSignVerifyRoundTrip(f *testing.F) {
	f.Add(kaID, int64(kaTimestamp), []byte(kaBody))
	f.Add("", int64(0), []byte{})
	f.Add("msg with spaces, commas=and.dots", int64(1<<40), []byte("\x00\xff"))
	names := webhook.ProfileNames()
	type pair struct {
		s *webhook.Signer
		v *webhook.Verifier
	}
	pairs := make([]pair, len(names))
	for i, name := range names {
		p := mustProfile(f, name)
		secret := kaSecretFor(name)
		pairs[i] = pair{mustSigner(f, p, secret, secret), mustVerifier(f, p, []string{secret}, webhook.WithoutTimestampCheck())}
	}
	f.Fuzz(func(t *testing.T, id string, ts int64, body []byte) {
		if ts < 0 || ts > 1e17 {
			return
		}
		for i, pr := range pairs {
			p := pr.v.Profile()
			if id == "" && p.Content == webhook.SignIDTimestampBody {
				continue // a message without an ID is refused, as it should be
			}
			h := http.Header{}
			pr.s.Sign(h, id, time.Unix(ts, 0), body)
			if err := pr.v.Verify(h, body); err != nil {
				t.Fatalf("%s: signed message does not verify: %v", names[i], err)
			}
			changed := append(append([]byte{}, body...), '!')
			if err := pr.v.Verify(h, changed); !errors.Is(err, webhook.ErrInvalidSignature) {
				t.Fatalf("%s: changed body: %v, want ErrInvalidSignature", names[i], err)
			}
		}
	})
}

func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:80", "192.0.2.1, 10.0.0.2")
	f.Add("[::1]:80", "")
	f.Add("garbage", ",,,")
	f.Add("A::", "")
	f.Add("[0:0::1]:80", "")
	f.Add("10.0.0.1:80", "[2001:db8::1]:443, not-an-ip")
	trusted := mustPrefixes(f, "10.0.0.0/8", "::1")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		a := webhook.ClientAddr(r, trusted)
		if a.IsValid() && a.Is4In6() {
			t.Fatalf("ClientAddr returned mapped address %s", a)
		}
		direct := webhook.ClientAddr(r, nil)
		bare := httptest.NewRequest(http.MethodPost, "/", nil)
		bare.RemoteAddr = remote
		if alone := webhook.ClientAddr(bare, nil); alone != direct {
			t.Fatalf("without trusted proxies X-Forwarded-For changed ClientAddr from %s to %s", alone, direct)
		}
		if direct.IsValid() && direct.Zone() == "" {
			// Cross-check with the net package's parser, which knows nothing of netip.
			host := remote
			if h, _, err := net.SplitHostPort(remote); err == nil {
				host = h
			}
			if ip := net.ParseIP(strings.Trim(host, "[]")); ip == nil || !ip.Equal(net.IP(direct.AsSlice())) {
				t.Fatalf("without trusted proxies ClientAddr = %s, not the address in %q", direct, remote)
			}
		}
	})
}

// FuzzTamperedSignature changes one byte of a genuine signature header, or inserts
// text into it, for every profile. Whatever the change, the result must not verify
// unless it still holds the genuine signature (hex digits may change case, which is
// accepted by design).
func FuzzTamperedSignature(f *testing.F) {
	f.Add(0, uint(10), byte(1), "")
	f.Add(4, uint(89), byte(0x40), "")
	f.Add(3, uint(46), byte(3), "")
	f.Add(5, uint(2), byte(1), "")
	f.Add(5, uint(13), byte(0), ",v1=00")
	f.Add(3, uint(3), byte(0), "\r\n")
	f.Add(1, uint(0), byte(0x20), "")
	names := webhook.ProfileNames()
	cases := make([]profileCase, len(names))
	verifiers := make([]*webhook.Verifier, len(names))
	for i, name := range names {
		cases[i] = newProfileCase(f, name)
		verifiers[i] = cases[i].verifier(f, kaTimestamp)
	}
	f.Fuzz(func(t *testing.T, profile int, pos uint, mask byte, insert string) {
		i := int(uint(profile) % uint(len(names)))
		c := cases[i]
		b := []byte(c.sigText)
		at := int(pos % uint(len(b)+1))
		if at < len(b) {
			b[at] ^= mask
		}
		sig := string(b[:at]) + insert + string(b[at:])
		if sig == c.sigText {
			return
		}
		h := c.h.Clone()
		h[http.CanonicalHeaderKey(c.p.SignatureHeader)] = []string{sig}
		err := verifiers[i].Verify(h, c.body)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		genuine := c.sigText
		if c.p.Layout == webhook.LayoutStripe {
			genuine = genuine[strings.IndexByte(genuine, ',')+1:]
		}
		if c.p.Encoding == webhook.Hex {
			sig, genuine = strings.ToLower(sig), strings.ToLower(genuine)
		}
		if !strings.Contains(sig, genuine) {
			t.Fatalf("%s accepted %q, which lacks the genuine %q", names[i], sig, c.sigText)
		}
	})
}

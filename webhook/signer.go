package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Signer signs outgoing webhooks for one endpoint. It is safe for concurrent use and
// cheap per message: keys are parsed and HMAC states pre-keyed once, in NewSigner.
type Signer struct {
	p                    Profile
	keys                 []signingKey
	idKey, tsKey, sigKey string
	valueLen             int // header value length without the timestamp
}

// NewSigner returns a Signer for profile p. Secrets are listed current first, then the
// previous ones still in their rotation grace period. Profiles with MultiSignature
// put one signature per secret in the header (space separated for Standard
// Webhooks, repeated "v1=" entries for Stripe); the others sign with the first
// secret only, but every secret must still parse.
//
// HMAC profiles with standard keys take "whsec_" secrets; Ed25519 profiles take
// "whsk_" keys; KeyText profiles (github, stripe, hmac-*-hex) take any non-empty
// string.
func NewSigner(p Profile, secrets ...string) (*Signer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	keys, err := parseSigningKeys(p, secrets)
	if err != nil {
		return nil, err
	}
	if !p.MultiSignature {
		keys = keys[:1]
	}
	s := &Signer{
		p:      p,
		keys:   keys,
		idKey:  http.CanonicalHeaderKey(p.IDHeader),
		tsKey:  http.CanonicalHeaderKey(p.TimestampHeader),
		sigKey: http.CanonicalHeaderKey(p.SignatureHeader),
	}
	s.valueLen = len(keys)*(len(p.Prefix)+p.encodedSize()+1) - 1
	if p.Layout == LayoutStripe {
		s.valueLen += len("t=") + 1
	}
	return s, nil
}

// Profile returns the signer's profile.
func (s *Signer) Profile() Profile { return s.p }

// Sign sets every header the profile needs on h: the ID header, the timestamp header
// (Unix seconds of ts) and the signature header, replacing earlier values. The ID and
// timestamp headers are set for every profile so receivers can de-duplicate; only
// the profile's Content decides what is signed.
func (s *Signer) Sign(h http.Header, msgID string, ts time.Time, body []byte) {
	var stack [512]byte
	tsStr, sig := s.sign(stack[:0], msgID, ts, body)
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = msgID, tsStr, sig
	h[s.idKey] = vals[0:1:1]
	h[s.tsKey] = vals[1:2:2]
	h[s.sigKey] = vals[2:3:3]
}

// HeaderSetter is a set of request headers that SignTo can write to: http.Header, or
// the request headers of another HTTP client library.
type HeaderSetter interface {
	Set(key, value string)
}

// SignTo sets the same headers as Sign, through h's Set method.
func (s *Signer) SignTo(h HeaderSetter, msgID string, ts time.Time, body []byte) {
	var stack [512]byte
	tsStr, sig := s.sign(stack[:0], msgID, ts, body)
	h.Set(s.idKey, msgID)
	h.Set(s.tsKey, tsStr)
	h.Set(s.sigKey, sig)
}

// sign returns the timestamp and signature header values, built in buf when they
// fit; the two strings share one allocation.
func (s *Signer) sign(buf []byte, msgID string, ts time.Time, body []byte) (tsValue, sigValue string) {
	var tsBuf [20]byte
	tsb := strconv.AppendInt(tsBuf[:0], ts.Unix(), 10)
	if n := 2*len(tsb) + s.valueLen; n > cap(buf) {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, tsb...)
	tsStr := string(tsb) // small; the compiler keeps it on the stack when possible
	if s.p.Layout == LayoutStripe {
		buf = append(buf, "t="...)
		buf = append(buf, tsb...)
		buf = append(buf, ',')
	}
	for i := range s.keys {
		if i > 0 {
			if s.p.Layout == LayoutStripe {
				buf = append(buf, ',')
			} else {
				buf = append(buf, ' ')
			}
		}
		buf = append(buf, s.p.Prefix...)
		buf = s.appendSignature(buf, &s.keys[i], msgID, tsStr, body)
	}
	all := string(buf)
	return all[:len(tsb)], all[len(tsb):]
}

// appendSignature appends the encoded signature of one key.
func (s *Signer) appendSignature(dst []byte, k *signingKey, id, ts string, body []byte) []byte {
	var raw [64]byte
	var sig []byte
	if k.hmac != nil {
		sig = k.hmac.appendMAC(raw[:0], s.p.Content, id, ts, body)
	} else {
		msg := signedContent(s.p.Content, id, ts, body)
		sig = ed25519.Sign(k.priv, *msg)
		putContent(msg)
	}
	if s.p.Encoding == Hex {
		return hex.AppendEncode(dst, sig)
	}
	return base64.StdEncoding.AppendEncode(dst, sig)
}

package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

// BenchmarkSign and BenchmarkVerify measure one 1 KiB message per profile.
func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	ts := time.Unix(kaTimestamp, 0)
	for _, name := range webhook.ProfileNames() {
		b.Run(name, func(b *testing.B) {
			s := mustSigner(b, mustProfile(b, name), kaSecretFor(name))
			h := http.Header{}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Sign(h, kaID, ts, body)
			}
		})
	}
	b.Run("standard/2keys", func(b *testing.B) {
		s := mustSigner(b, mustProfile(b, "standard"), kaSecret, kaOldSecret)
		h := http.Header{}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			s.Sign(h, kaID, ts, body)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	for _, name := range webhook.ProfileNames() {
		b.Run(name, func(b *testing.B) {
			p := mustProfile(b, name)
			secret := kaSecretFor(name)
			verify := secret
			if p.Algorithm == webhook.Ed25519 {
				verify = kaEdPub
			}
			h := http.Header{}
			mustSigner(b, p, secret).Sign(h, kaID, time.Unix(kaTimestamp, 0), body)
			v := mustVerifier(b, p, []string{verify}, webhook.WithClock(fixedClock(kaTimestamp)))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

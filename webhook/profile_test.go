package webhook_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
)

func TestLookupProfile(t *testing.T) {
	names := webhook.ProfileNames()
	for _, want := range []string{"standard", "svix", "standard-ed25519", "hmac-sha256-hex", "hmac-sha512-hex", "github", "stripe"} {
		if !slices.Contains(names, want) {
			t.Errorf("ProfileNames() = %v, missing %q", names, want)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("ProfileNames() = %v, not sorted", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, err := webhook.LookupProfile(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name {
				t.Errorf("Name = %q", p.Name)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	t.Run("empty is standard", func(t *testing.T) {
		p, err := webhook.LookupProfile("")
		if err != nil || p.Name != "standard" {
			t.Fatalf("LookupProfile(\"\") = %q, %v", p.Name, err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := webhook.LookupProfile("gitlab")
		if !errors.Is(err, webhook.ErrUnknownProfile) {
			t.Fatalf("err = %v, want ErrUnknownProfile", err)
		}
	})
	t.Run("copies are independent", func(t *testing.T) {
		p := mustProfile(t, "github")
		p.SignatureHeader = "X-Changed"
		if mustProfile(t, "github").SignatureHeader != "X-Hub-Signature-256" {
			t.Fatal("changing a returned profile changed the built-in one")
		}
	})
}

func TestProfileWithSignatureHeader(t *testing.T) {
	p := mustProfile(t, "hmac-sha256-hex").WithSignatureHeader("X-Signature")
	h := http.Header{}
	mustSigner(t, p, kaText).Sign(h, kaID, time.Unix(kaTimestamp, 0), []byte(kaBody))
	// Same value as the hmac-sha256-hex vector, in another header.
	if got := h.Get("X-Signature"); got != "382dbbb08be06d24b5f74a1d108eb666db4de62e05b9e6693905d43eb662258d" {
		t.Errorf("X-Signature = %q", got)
	}
	if h.Get("webhook-signature") != "" {
		t.Error("default header still set")
	}
	if h.Get("webhook-id") != kaID || h.Get("webhook-timestamp") != "1674087231" {
		t.Errorf("ID/timestamp headers missing: %v", h)
	}
}

// TestCustomProfile shows that a new scheme is a Profile literal: here base64
// HMAC-SHA512 over "timestamp.body" in X-Acme-Signature. The expected value was
// computed with Python: base64.b64encode(hmac.new(b"acme-secret",
// b"1674087231." + body, hashlib.sha512).digest()).
func TestCustomProfile(t *testing.T) {
	p := webhook.Profile{
		Name:            "acme",
		SignatureHeader: "X-Acme-Signature",
		IDHeader:        "X-Acme-Id",
		TimestampHeader: "X-Acme-Timestamp",
		Algorithm:       webhook.HMACSHA512,
		Encoding:        webhook.Base64,
		Content:         webhook.SignTimestampBody,
		Layout:          webhook.LayoutList,
		Keys:            webhook.KeyText,
	}
	h := http.Header{}
	mustSigner(t, p, "acme-secret").Sign(h, kaID, time.Unix(kaTimestamp, 0), []byte(kaBody))
	const want = "B48DHBKcLtcxR/a8uAjr27QAvTx+O5gSM0oA9dnue5JHc6BfImVyReiJlWSEhd5gq2gToZlGhdAzC3zTlAvj0g=="
	if got := h.Get("X-Acme-Signature"); got != want {
		t.Errorf("X-Acme-Signature = %q\nwant %q", got, want)
	}
	v := mustVerifier(t, p, []string{"acme-secret"}, webhook.WithClock(fixedClock(kaTimestamp)))
	if err := v.Verify(h, []byte(kaBody)); err != nil {
		t.Fatal(err)
	}
}

func TestProfileValidate(t *testing.T) {
	base := mustProfile(t, "standard")
	tests := []struct {
		name   string
		mutate func(*webhook.Profile)
	}{
		{"no name", func(p *webhook.Profile) { p.Name = "" }},
		{"no signature header", func(p *webhook.Profile) { p.SignatureHeader = "" }},
		{"header with space", func(p *webhook.Profile) { p.SignatureHeader = "X Sig" }},
		{"same headers", func(p *webhook.Profile) { p.IDHeader = "Webhook-Signature" }},
		{"no algorithm", func(p *webhook.Profile) { p.Algorithm = 0 }},
		{"no encoding", func(p *webhook.Profile) { p.Encoding = 0 }},
		{"no content", func(p *webhook.Profile) { p.Content = 0 }},
		{"no layout", func(p *webhook.Profile) { p.Layout = 0 }},
		{"no key format", func(p *webhook.Profile) { p.Keys = 0 }},
		{"prefix with space", func(p *webhook.Profile) { p.Prefix = "v1 " }},
		{"ed25519 with text keys", func(p *webhook.Profile) { p.Algorithm, p.Keys = webhook.Ed25519, webhook.KeyText }},
		{"stripe layout without prefix", func(p *webhook.Profile) {
			p.Layout, p.Prefix, p.Content = webhook.LayoutStripe, "", webhook.SignTimestampBody
		}},
		{"stripe layout signing id", func(p *webhook.Profile) { p.Layout, p.Prefix = webhook.LayoutStripe, "v1=" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.mutate(&p)
			if err := p.Validate(); !errors.Is(err, webhook.ErrInvalidProfile) {
				t.Fatalf("Validate = %v, want ErrInvalidProfile", err)
			}
			if _, err := webhook.NewSigner(p, kaSecret); !errors.Is(err, webhook.ErrInvalidProfile) {
				t.Fatalf("NewSigner = %v, want ErrInvalidProfile", err)
			}
		})
	}
}

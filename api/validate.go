package api

import (
	"fmt"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
)

// checkProfile validates a signature profile name.
func checkProfile(field, name string) (webhook.Profile, error) {
	p, err := webhook.LookupProfile(name)
	if err != nil {
		return p, invalid(field, fmt.Sprintf("unknown signature profile %q (known: %s)", name, strings.Join(webhook.ProfileNames(), ", ")))
	}
	return p, nil
}

// newSecret makes a fresh secret for the profile.
func newSecret(p webhook.Profile) (string, error) {
	if p.Algorithm == webhook.Ed25519 {
		sk, _, err := webhook.NewEd25519Key()
		return sk, err
	}
	return webhook.NewSecret()
}

// checkSecret validates a secret given by the client for the profile and returns it
// in its stored form. As in Svix, a base64 HMAC key may come without the "whsec_"
// prefix.
func checkSecret(field, secret string, p webhook.Profile) (string, error) {
	if p.Keys == webhook.KeyStandard && p.Algorithm != webhook.Ed25519 && !strings.HasPrefix(secret, webhook.SecretPrefix) {
		secret = webhook.SecretPrefix + secret
	}
	if _, err := webhook.NewSigner(p, secret); err != nil {
		return "", invalid(field, "secret is not valid for the "+p.Name+" signature profile: it must be "+secretFormat(p))
	}
	return secret, nil
}

func secretFormat(p webhook.Profile) string {
	switch {
	case p.Algorithm == webhook.Ed25519:
		return `"whsk_" followed by base64 of an Ed25519 private key`
	case p.Keys == webhook.KeyText:
		return "a non-empty string"
	}
	return `"whsec_" followed by base64 of 24 to 64 bytes`
}

// The root's checks under the names the handlers have long used for them.
var (
	checkName          = hookd.CheckName
	checkNames         = hookd.CheckNames
	checkUID           = hookd.CheckUID
	checkRetrySchedule = hookd.CheckRetrySchedule
	checkMetadata      = hookd.CheckMetadata
)

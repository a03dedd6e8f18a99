package api

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
)

// idPattern is what Svix allows in uids, event type names, event IDs and channels.
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_.]+$`)

// checkName validates a uid-like value of at most max characters.
func checkName(field, v string, max int) error {
	if v == "" {
		return invalid(field, field+" must not be empty")
	}
	if len(v) > max {
		return invalid(field, fmt.Sprintf("%s must be at most %d characters", field, max))
	}
	if !idPattern.MatchString(v) {
		return invalid(field, field+" may contain only letters, digits, '-', '_' and '.'")
	}
	if v == "." || v == ".." {
		// A path segment of its own: URL cleaning would make it name the parent.
		return invalid(field, fmt.Sprintf("%s must not be %q", field, v))
	}
	return nil
}

// checkNames validates a list of uid-like values.
func checkNames(field string, vs []string, max int) error {
	for _, v := range vs {
		if err := checkName(field, v, max); err != nil {
			return err
		}
	}
	return nil
}

// checkUID validates a uid; uids must not look like hookd IDs, so that a path segment
// is unambiguous.
func checkUID(field, uid, idPrefix string) error {
	if err := checkName(field, uid, 256); err != nil {
		return err
	}
	if strings.HasPrefix(uid, idPrefix) {
		if _, ok := hookd.IDTime(uid); ok {
			return invalid(field, fmt.Sprintf("%s must not look like an ID (%s…)", field, idPrefix))
		}
	}
	return nil
}

// checkURL validates an endpoint URL: absolute, http or https, with a host. Whether the
// host may be reached is decided when connecting, by the delivery engine.
func checkURL(field, raw string) error {
	if raw == "" {
		return invalid(field, "url must not be empty")
	}
	if len(raw) > 65536 {
		return invalid(field, "url is too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(field, "url is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid(field, "url must use http or https")
	}
	if u.Host == "" || u.Hostname() == "" {
		return invalid(field, "url must have a host")
	}
	if u.User != nil {
		return invalid(field, "url must not contain credentials")
	}
	return nil
}

// checkRetrySchedule validates a retry schedule override ("" clears it).
func checkRetrySchedule(field, s string) error {
	if s == "" {
		return nil
	}
	if _, err := hookd.ParseRetrySchedule(s); err != nil {
		return invalid(field, err.Error())
	}
	return nil
}

// checkRateLimit validates a rate limit in messages per second (0: none). The Svix
// contract types it uint16, and the SDKs read it back as one.
func checkRateLimit(field string, v int32) error {
	if v < 0 || v > math.MaxUint16 {
		return invalid(field, field+" must be between 0 (no limit) and 65535")
	}
	return nil
}

// checkMetadata validates metadata.
func checkMetadata(field string, m map[string]string) error {
	if len(m) > 100 {
		return invalid(field, "metadata may hold at most 100 keys")
	}
	return nil
}

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

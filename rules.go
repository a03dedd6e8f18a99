package hookd

import (
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// namePattern is what Svix allows in uids, event type names, event IDs, channels and
// tags.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9\-_.]+$`)

// CheckName validates a uid-like value of at most max characters: letters, digits,
// '-', '_' and '.'. Its error is an EINVALID about field.
func CheckName(field, v string, max int) error {
	if v == "" {
		return Invalid(field, "%s must not be empty", field)
	}
	if len(v) > max {
		return Invalid(field, "%s must be at most %d characters", field, max)
	}
	if !namePattern.MatchString(v) {
		return Invalid(field, "%s may contain only letters, digits, '-', '_' and '.'", field)
	}
	if v == "." || v == ".." {
		// A path segment of its own: URL cleaning would make it name the parent.
		return Invalid(field, "%s must not be %q", field, v)
	}
	return nil
}

// CheckNames validates each of vs with CheckName.
func CheckNames(field string, vs []string, max int) error {
	for _, v := range vs {
		if err := CheckName(field, v, max); err != nil {
			return err
		}
	}
	return nil
}

// CheckUID validates a uid of an object whose IDs start with idPrefix. A uid must not
// look like such an ID, so that a path segment naming the object is unambiguous.
func CheckUID(field, uid, idPrefix string) error {
	if err := CheckName(field, uid, 256); err != nil {
		return err
	}
	if strings.HasPrefix(uid, idPrefix) {
		if _, ok := IDTime(uid); ok {
			return Invalid(field, "%s must not look like an ID (%s…)", field, idPrefix)
		}
	}
	return nil
}

// CheckRetrySchedule validates a retry schedule override ("" clears it).
func CheckRetrySchedule(field, s string) error {
	if s == "" {
		return nil
	}
	if _, err := ParseRetrySchedule(s); err != nil {
		return Invalid(field, "%s", err.Error())
	}
	return nil
}

// CheckRateLimit validates a rate limit in messages per second (0: none). The Svix
// contract types it uint16, and its SDKs read it back as one.
func CheckRateLimit(field string, v int64) error {
	if v < 0 || v > math.MaxUint16 {
		return Invalid(field, "%s must be between 0 (no limit) and 65535", field)
	}
	return nil
}

// MaxMetadataKeys bounds the metadata of an application or an endpoint.
const MaxMetadataKeys = 100

// CheckMetadata validates metadata.
func CheckMetadata(field string, m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return Invalid(field, "metadata may hold at most %d keys", MaxMetadataKeys)
	}
	return nil
}

// Endpoint limits.
const (
	// MaxEndpointURLBytes bounds an endpoint's URL.
	MaxEndpointURLBytes = 65536
	// MaxEndpointChannels bounds the channels an endpoint listens to.
	MaxEndpointChannels = 10
	// MaxEndpointTimeout bounds an endpoint's request timeout.
	MaxEndpointTimeout = 5 * time.Minute
)

// ParseEndpointURL parses an endpoint's URL: absolute, http or https, with a host and
// without credentials (a secret in a URL would be shown wherever the URL is). It is
// the one check of endpoint URLs, made when one is set and again before sending.
// Whether the host may be reached is decided when connecting. Its error is an
// EINVALID about "url".
func ParseEndpointURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, Invalid("url", "url must not be empty")
	}
	if len(raw) > MaxEndpointURLBytes {
		return nil, Invalid("url", "url is too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Invalid("url", "url is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, Invalid("url", "url must use http or https")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, Invalid("url", "url must have a host")
	}
	if u.User != nil {
		return nil, Invalid("url", "url must not contain credentials")
	}
	return u, nil
}

// SetURL checks raw with ParseEndpointURL and makes it the endpoint's URL.
func (e *Endpoint) SetURL(raw string) error {
	if _, err := ParseEndpointURL(raw); err != nil {
		return err
	}
	e.URL = raw
	return nil
}

// SetUID checks and sets the endpoint's uid; nil clears it.
func (e *Endpoint) SetUID(uid *string) error {
	e.UID = ""
	if uid == nil {
		return nil
	}
	if err := CheckUID("uid", *uid, PrefixEndpoint); err != nil {
		return err
	}
	e.UID = *uid
	return nil
}

// SetFilterTypes checks and sets the event types the endpoint receives (empty: all).
func (e *Endpoint) SetFilterTypes(types []string) error {
	if err := CheckNames("filterTypes", types, 256); err != nil {
		return err
	}
	if len(types) == 0 {
		types = nil
	}
	e.FilterTypes = types
	return nil
}

// SetChannels checks and sets the channels the endpoint listens to (empty: all).
func (e *Endpoint) SetChannels(channels []string) error {
	if len(channels) > MaxEndpointChannels {
		return Invalid("channels", "an endpoint may listen to at most %d channels", MaxEndpointChannels)
	}
	if err := CheckNames("channels", channels, 128); err != nil {
		return err
	}
	if len(channels) == 0 {
		channels = nil
	}
	e.Channels = channels
	return nil
}

// SetRateLimit checks and sets the endpoint's rate limit (0: none).
func (e *Endpoint) SetRateLimit(perSecond int64) error {
	if err := CheckRateLimit("rateLimit", perSecond); err != nil {
		return err
	}
	e.RateLimit = int(perSecond)
	return nil
}

// MaxEndpointConcurrency bounds an endpoint's maxConcurrency.
const MaxEndpointConcurrency = 10000

// SetMaxConcurrency checks and sets the endpoint's cap on requests in flight (0: the
// server's --endpoint-concurrency).
func (e *Endpoint) SetMaxConcurrency(n int64) error {
	if n < 0 || n > MaxEndpointConcurrency {
		return Invalid("maxConcurrency", "maxConcurrency must be between 0 (the server's --endpoint-concurrency) and %d", MaxEndpointConcurrency)
	}
	e.MaxConcurrency = int(n)
	return nil
}

// SetTimeoutMs checks and sets the endpoint's request timeout in milliseconds (0: the
// server's).
func (e *Endpoint) SetTimeoutMs(ms int64) error {
	// Checked before converting: a large ms would overflow the duration.
	if ms < 0 || ms > MaxEndpointTimeout.Milliseconds() {
		return Invalid("timeoutMs", "timeoutMs must be between 0 (server default) and %d", MaxEndpointTimeout.Milliseconds())
	}
	e.Timeout = time.Duration(ms) * time.Millisecond
	return nil
}

// SetDisabled disables or enables the endpoint at now. Disabling an enabled endpoint
// records when; enabling forgets its run of failures, so that the health check does
// not disable it again for failures from before.
func (e *Endpoint) SetDisabled(disabled bool, now time.Time) {
	if disabled && !e.Disabled {
		e.DisabledAt = &now
	}
	if !disabled {
		e.FailingSince = nil
	}
	e.Disabled = disabled
}

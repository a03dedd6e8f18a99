package hookd

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// RetrySchedule says when a failed delivery is tried again. The first attempt is made
// at once; after the n-th failed attempt the delivery waits Delay(n) and tries again,
// until the schedule is exhausted and the delivery fails.
//
// The default schedule (Standard Webhooks) retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
// and 10 h after each failure: 8 attempts over about 27.6 hours. Every delay is
// spread by ±10 % jitter so that endpoints recovering from an outage are not hit by
// every retry at the same instant.
type RetrySchedule struct {
	// Name is the preset name, or the schedule as text for custom lists.
	Name string
	// Delays are the waits before each retry (fixed schedules).
	Delays []time.Duration
	// Exponential, when Retries > 0, replaces Delays by Base·2ⁿ capped at Max.
	Exponential Exponential
}

// Exponential describes exponential backoff with jitter.
type Exponential struct {
	Base    time.Duration
	Max     time.Duration
	Retries int
}

// Retry schedule presets, by name.
var retryPresets = map[string]RetrySchedule{
	"default": {Name: "default", Delays: []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 10 * time.Hour}},
	// short: retries 1, 2, 5, 10, 60 and 180 minutes after the first send.
	"short": {Name: "short", Delays: []time.Duration{
		1 * time.Minute, 1 * time.Minute, 3 * time.Minute, 5 * time.Minute,
		50 * time.Minute, 120 * time.Minute}},
	// exponential: 5 s doubling up to 10 h, 12 retries (about 38 hours in all).
	"exponential": {Name: "exponential", Exponential: Exponential{
		Base: 5 * time.Second, Max: 10 * time.Hour, Retries: 12}},
	// none: a single attempt.
	"none": {Name: "none"},
}

// RetryPresetNames lists the names ParseRetrySchedule accepts besides custom lists.
func RetryPresetNames() []string {
	return []string{"default", "short", "exponential", "none"}
}

// DefaultRetrySchedule returns the Standard Webhooks schedule.
func DefaultRetrySchedule() RetrySchedule { return retryPresets["default"] }

// ParseRetrySchedule parses a preset name ("default", "short", "exponential", "none"),
// an exponential form "exponential:BASE,MAX,RETRIES" (e.g. "exponential:1s,1h,10") or a
// comma-separated list of Go durations with optional day suffix ("5s,5m,30m,2h,1d").
func ParseRetrySchedule(s string) (RetrySchedule, error) {
	s = strings.TrimSpace(s)
	if p, ok := retryPresets[s]; ok {
		return p, nil
	}
	if rest, ok := strings.CutPrefix(s, "exponential:"); ok {
		parts := strings.Split(rest, ",")
		if len(parts) != 3 {
			return RetrySchedule{}, fmt.Errorf("retry schedule %q: want exponential:BASE,MAX,RETRIES", s)
		}
		base, err1 := parseDelay(parts[0])
		max, err2 := parseDelay(parts[1])
		n, err3 := strconv.Atoi(strings.TrimSpace(parts[2]))
		if err1 != nil || err2 != nil || err3 != nil || base <= 0 || max < base || n < 1 || n > 100 {
			return RetrySchedule{}, fmt.Errorf("retry schedule %q: want exponential:BASE,MAX,RETRIES with 0 < BASE <= MAX and 1 <= RETRIES <= 100", s)
		}
		return RetrySchedule{Name: s, Exponential: Exponential{Base: base, Max: max, Retries: n}}, nil
	}
	if s == "" {
		return RetrySchedule{}, fmt.Errorf("retry schedule is empty: give a preset (%s) or delays like 5s,5m,30m", strings.Join(RetryPresetNames(), ", "))
	}
	parts := strings.Split(s, ",")
	if len(parts) > 100 {
		return RetrySchedule{}, fmt.Errorf("retry schedule %q: at most 100 retries", s)
	}
	delays := make([]time.Duration, 0, len(parts))
	for _, p := range parts {
		d, err := parseDelay(p)
		if err != nil || d < 0 {
			return RetrySchedule{}, fmt.Errorf("retry schedule %q: %q is not a delay like 30s, 5m, 2h or 1d (presets: %s)", s, strings.TrimSpace(p), strings.Join(RetryPresetNames(), ", "))
		}
		delays = append(delays, d)
	}
	return RetrySchedule{Name: s, Delays: delays}, nil
}

// MaxRetryDelay is the longest delay a retry schedule may hold.
const MaxRetryDelay = 365 * 24 * time.Hour

func parseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		// Checked before converting: a large n would overflow the duration.
		if n > int(MaxRetryDelay/(24*time.Hour)) {
			return 0, fmt.Errorf("delay %q is longer than %d days", s, int(MaxRetryDelay/(24*time.Hour)))
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d > MaxRetryDelay {
		return 0, fmt.Errorf("delay %q is longer than %s", s, MaxRetryDelay)
	}
	return d, err
}

// Retries returns how many retries the schedule allows after the first attempt.
func (r RetrySchedule) Retries() int {
	if r.Exponential.Retries > 0 {
		return r.Exponential.Retries
	}
	return len(r.Delays)
}

// Delay returns how long to wait after the attempts-th failed attempt (1 for the first
// attempt) before trying again, and false when the schedule is exhausted. rnd returns a
// number in [0, 1) for jitter; nil means no jitter.
func (r RetrySchedule) Delay(attempts int, rnd func() float64) (time.Duration, bool) {
	if attempts < 1 || attempts > r.Retries() {
		return 0, false
	}
	if e := r.Exponential; e.Retries > 0 {
		d := float64(e.Base) * math.Pow(2, float64(attempts-1))
		if d > float64(e.Max) {
			d = float64(e.Max)
		}
		if rnd != nil {
			// Equal jitter: half fixed, half random.
			d = d/2 + rnd()*d/2
		}
		return time.Duration(d), true
	}
	d := r.Delays[attempts-1]
	if rnd != nil {
		d = time.Duration(float64(d) * (0.9 + 0.2*rnd()))
	}
	return d, true
}

// String returns the schedule in the form ParseRetrySchedule reads.
func (r RetrySchedule) String() string { return r.Name }

// ResolveRetrySchedule picks the most specific schedule: the endpoint's, else the event
// type's, else the application's, else the server's. Overrides are stored as text and
// were validated when set; one that no longer parses (written by an older version, or
// into the database by hand) is skipped for the next less specific one, and the error
// names it so that the caller can report it.
func ResolveRetrySchedule(server RetrySchedule, app, eventType, endpoint string) (RetrySchedule, error) {
	var errs []error
	for _, o := range []struct{ of, s string }{{"endpoint", endpoint}, {"event type", eventType}, {"application", app}} {
		if o.s == "" {
			continue
		}
		r, err := ParseRetrySchedule(o.s)
		if err == nil {
			return r, errors.Join(errs...)
		}
		errs = append(errs, fmt.Errorf("%s's retry schedule skipped: %w", o.of, err))
	}
	return server, errors.Join(errs...)
}

package hookd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// delays returns the schedule's waits without jitter.
func delays(r hookd.RetrySchedule) []time.Duration {
	var out []time.Duration
	for n := 1; ; n++ {
		d, ok := r.Delay(n, nil)
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

func TestParseRetrySchedule(t *testing.T) {
	s, m, h := time.Second, time.Minute, time.Hour
	tests := []struct {
		in   string
		want []time.Duration
	}{
		{"default", []time.Duration{5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h}},
		{"short", []time.Duration{1 * m, 1 * m, 3 * m, 5 * m, 50 * m, 120 * m}},
		{"none", nil},
		{"5s,5m,30m", []time.Duration{5 * s, 5 * m, 30 * m}},
		{" 1s , 2d ", []time.Duration{s, 48 * h}},
		{"0s", []time.Duration{0}},
		{"exponential:1s,5s,4", []time.Duration{s, 2 * s, 4 * s, 5 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := hookd.ParseRetrySchedule(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := delays(r)
			if len(got) != len(tt.want) || r.Retries() != len(tt.want) {
				t.Fatalf("delays %v (Retries %d), want %v", got, r.Retries(), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("delays %v, want %v", got, tt.want)
				}
			}
			if again, err := hookd.ParseRetrySchedule(r.String()); err != nil || again.Retries() != r.Retries() {
				t.Fatalf("String %q does not parse back: %v", r.String(), err)
			}
		})
	}
}

func TestParseRetryScheduleErrors(t *testing.T) {
	tests := map[string]string{
		"":                                "empty",
		"soon":                            `"soon" is not a delay`,
		"5s,-1s":                          `"-1s" is not a delay`,
		"5s,,5s":                          `"" is not a delay`,
		"exponential:1s,5s":               "want exponential:BASE,MAX,RETRIES",
		"exponential:5s,1s,3":             "BASE <= MAX",
		"exponential:1s,5s,0":             "1 <= RETRIES",
		"exponential:0s,5s,3":             "0 < BASE",
		strings.Repeat("1s,", 100) + "1s": "at most 100",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			_, err := hookd.ParseRetrySchedule(in)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
		})
	}
}

func TestShortPresetTimesFromFirstSend(t *testing.T) {
	r, err := hookd.ParseRetrySchedule("short")
	if err != nil {
		t.Fatal(err)
	}
	var at time.Duration
	var got []time.Duration
	for _, d := range delays(r) {
		at += d
		got = append(got, at)
	}
	want := []time.Duration{1, 2, 5, 10, 60, 180}
	for i := range want {
		if got[i] != want[i]*time.Minute {
			t.Fatalf("retries at %v after the first send, want %v minutes", got, want)
		}
	}
}

func TestDefaultScheduleTotal(t *testing.T) {
	var total time.Duration
	for _, d := range delays(hookd.DefaultRetrySchedule()) {
		total += d
	}
	// 8 attempts over about 27.6 hours, as the doc says.
	if want := 27*time.Hour + 35*time.Minute + 5*time.Second; total != want {
		t.Fatalf("default schedule spans %v, want %v", total, want)
	}
}

func TestDelayJitter(t *testing.T) {
	fixed := hookd.DefaultRetrySchedule()
	exp, err := hookd.ParseRetrySchedule("exponential:10s,1h,5")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		r        hookd.RetrySchedule
		attempt  int
		rnd      float64
		min, max time.Duration
	}{
		{"fixed low", fixed, 1, 0, 4500 * time.Millisecond, 4500 * time.Millisecond},
		{"fixed mid", fixed, 1, 0.5, 5 * time.Second, 5 * time.Second},
		{"fixed high", fixed, 2, 0.999999, 5 * time.Minute, 330 * time.Second},
		{"exponential low", exp, 3, 0, 20 * time.Second, 20 * time.Second},
		{"exponential high", exp, 3, 0.999999, 39 * time.Second, 40 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := tt.r.Delay(tt.attempt, func() float64 { return tt.rnd })
			if !ok || d < tt.min || d > tt.max {
				t.Fatalf("Delay(%d) = %v, %v; want within [%v, %v]", tt.attempt, d, ok, tt.min, tt.max)
			}
		})
	}
	for _, n := range []int{0, -1, 8} {
		if _, ok := fixed.Delay(n, nil); ok {
			t.Errorf("Delay(%d) of the default schedule is not exhausted", n)
		}
	}
}

func TestResolveRetrySchedule(t *testing.T) {
	server := hookd.DefaultRetrySchedule()
	tests := []struct {
		name                string
		app, eventType, ept string
		want                string
		wantErr             string // part of the error, "" for none
	}{
		{"server", "", "", "", "default", ""},
		{"application", "short", "", "", "short", ""},
		{"event type over application", "short", "none", "", "none", ""},
		{"endpoint over all", "short", "none", "1s,2s", "1s,2s", ""},
		{"invalid override skipped and named", "short", "", "bogus", "short", "endpoint's retry schedule skipped"},
		{"every override invalid", "x", "y", "", "default", "application's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := hookd.ResolveRetrySchedule(server, tt.app, tt.eventType, tt.ept)
			if got.String() != tt.want {
				t.Fatalf("resolved %q, want %q", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

package hookd_test

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestIDGenSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 200; i++ {
		at := base.Add(time.Duration(i) * time.Millisecond)
		g := hookd.IDGen{Now: func() time.Time { return at }}
		ids = append(ids, g.New(hookd.PrefixMessage))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("IDs made at increasing times are not sorted: %v", ids[:5])
	}
	for i, id := range ids {
		if !strings.HasPrefix(id, "msg_") || len(id) != len("msg_")+22 {
			t.Fatalf("id %q: want msg_ and 22 base62 characters", id)
		}
		got, ok := hookd.IDTime(id)
		want := base.Add(time.Duration(i) * time.Millisecond)
		if !ok || !got.Equal(want) {
			t.Fatalf("IDTime(%q) = %v, %v; want %v", id, got, ok, want)
		}
	}
}

func TestIDGenIsRandom(t *testing.T) {
	at := time.Unix(1700000000, 0)
	g := hookd.IDGen{Now: func() time.Time { return at }}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := g.New(hookd.PrefixApp)
		if seen[id] {
			t.Fatalf("duplicate id %q at one instant", id)
		}
		seen[id] = true
	}
}

func TestIDGenDeterministicWithInjectedRandomness(t *testing.T) {
	at := time.Unix(1700000000, 123e6)
	a := hookd.IDGen{Now: func() time.Time { return at }, Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 10))}
	b := hookd.IDGen{Now: func() time.Time { return at }, Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 10))}
	if x, y := a.New("ep_"), b.New("ep_"); x != y {
		t.Fatalf("same clock and randomness gave %q and %q", x, y)
	}
}

func TestIDAtBoundsIDsOfThatTime(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := hookd.IDGen{Now: func() time.Time { return at }}
	id := g.New(hookd.PrefixMessage)
	if lo := hookd.IDAt(hookd.PrefixMessage, at); lo > id {
		t.Fatalf("IDAt(%v) = %q sorts after an id made then: %q", at, lo, id)
	}
	if hi := hookd.IDAt(hookd.PrefixMessage, at.Add(time.Millisecond)); hi <= id {
		t.Fatalf("IDAt(%v+1ms) = %q sorts before an id made at %v: %q", at, hi, at, id)
	}
}

func TestIDTimeRejectsForeignIDs(t *testing.T) {
	for _, id := range []string{"", "msg", "msg_short", "msg_!!!!!!!!!!!!!!!!!!!!!!", "app_2KWPBgLlAfxdpx2AI54pPJ85f4W"} {
		if _, ok := hookd.IDTime(id); ok {
			t.Errorf("IDTime(%q) accepted a foreign id", id)
		}
	}
}

package crypt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/crypt"
	"github.com/hookd/hookd/sqlite"
)

func openStore(t *testing.T) hookd.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestParseKey(t *testing.T) {
	k := crypt.NewKey()
	for _, s := range []string{k.String(), strings.TrimRight(k.String(), "="), "\n" + k.String() + "\n"} {
		got, err := crypt.ParseKey(s)
		if err != nil || got != k {
			t.Errorf("ParseKey(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", strings.Repeat("z", 64), k.String()[:40]} {
		if _, err := crypt.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func TestSealOpen(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	main := crypt.NewKey()
	k, err := crypt.Load(ctx, st, main, true)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	a, _ := k.Seal(secret)
	b, _ := k.Seal(secret)
	if a == b || strings.Contains(a, "MfKQ9r8") {
		t.Fatalf("sealed %q and %q", a, b)
	}
	if got, err := k.Open(a); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if got, _ := k.Open(secret); got != secret {
		t.Fatalf("a plain value opened as %q", got)
	}
	if s, _ := k.Seal(""); s != "" {
		t.Fatalf("the empty string sealed as %q", s)
	}
	tampered := a[:len(a)-2] + "AA"
	if tampered == a {
		tampered = a[:len(a)-2] + "BB"
	}
	if _, err := k.Open(tampered); err == nil {
		t.Fatal("a tampered value opened")
	}
	// A second start with the same key opens what the first sealed.
	again, err := crypt.Load(ctx, st, main, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(a); err != nil || got != secret {
		t.Fatalf("reopened keyring: %q, %v", got, err)
	}
	// Another key is refused at load, never used to seal anew.
	if _, err := crypt.Load(ctx, st, crypt.NewKey(), true); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("load with another key: %v", err)
	}
}

// TestRotate rotates while an old-key keyring keeps working, as a running node does.
func TestRotate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	oldKey, newKey := crypt.NewKey(), crypt.NewKey()
	running, err := crypt.Load(ctx, st, oldKey, true)
	if err != nil {
		t.Fatal(err)
	}
	store := crypt.Wrap(st, running)
	now := time.Now().UTC()
	app := &hookd.Application{ID: hookd.IDGen{}.New(hookd.PrefixApp), Name: "a", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: hookd.IDGen{}.New(hookd.PrefixEndpoint), AppID: app.ID, URL: "https://example.com",
		Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, Headers: map[string]string{"Authorization": "Bearer s3cr3t"},
		CreatedAt: now, UpdatedAt: now}
	if err := store.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	rawBefore, _ := st.Endpoint(ctx, app.ID, ep.ID)
	var added bool
	err = crypt.Rotate(ctx, st, oldKey, newKey, crypt.RotateOptions{Settle: -1, Added: func() error {
		added = true
		// Mid-rotation both keys open the database.
		for _, k := range []crypt.Key{oldKey, newKey} {
			if _, err := crypt.Load(ctx, st, k, false); err != nil {
				t.Errorf("mid-rotation load with %s: %v", k.ID(), err)
			}
		}
		// The running node's periodic refresh (Watch) falls in the settle time.
		if err := running.Refresh(ctx); err != nil {
			t.Errorf("refresh mid-rotation: %v", err)
		}
		return nil
	}})
	if err != nil || !added {
		t.Fatalf("Rotate: %v (added %v)", err, added)
	}
	rawAfter, _ := st.Endpoint(ctx, app.ID, ep.ID)
	if rawAfter.Secrets[0].Key == rawBefore.Secrets[0].Key || rawAfter.Headers["Authorization"] == rawBefore.Headers["Authorization"] {
		t.Fatal("Rotate did not re-seal the endpoint")
	}
	// The running keyring learned the new data key while the old main key still
	// opened it, and keeps reading; a refresh now finds its main key gone but keeps
	// the keys it has.
	if err := running.Refresh(ctx); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("refresh after the rotation: %v", err)
	}
	got, err := store.Endpoint(ctx, app.ID, ep.ID)
	if err != nil || got.Secrets[0].Key != ep.Secrets[0].Key || got.Headers["Authorization"] != "Bearer s3cr3t" {
		t.Fatalf("running node after the rotation: %+v, %v", got, err)
	}
	if _, err := crypt.Load(ctx, st, oldKey, false); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("old key after the rotation: %v", err)
	}
	fresh, err := crypt.Load(ctx, st, newKey, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err = crypt.Wrap(st, fresh).Endpoint(ctx, app.ID, ep.ID)
	if err != nil || got.Secrets[0].Key != ep.Secrets[0].Key {
		t.Fatalf("new key after the rotation: %+v, %v", got, err)
	}
}

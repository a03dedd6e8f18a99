package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func (f *fixture) token(kind hookd.TokenKind, mods ...func(*hookd.Token)) *hookd.Token {
	f.t.Helper()
	prefix := hookd.PrefixAPIKeyID
	if kind == hookd.TokenApp {
		prefix = hookd.PrefixAppTokenID
	}
	id := f.id(prefix)
	t := &hookd.Token{ID: id, Kind: kind, Hash: hookd.HashToken("secret-" + id), CreatedAt: f.now}
	for _, m := range mods {
		m(t)
	}
	if err := f.s.CreateToken(f.ctx, t); err != nil {
		f.t.Fatalf("CreateToken: %v", err)
	}
	return t
}

var tokenTests = []test{
	{"CreateAndFindByHash", func(t *testing.T, f *fixture) {
		exp := t0.Add(time.Hour)
		want := f.token(hookd.TokenApp, func(tk *hookd.Token) {
			tk.AppID = "app_x"
			tk.Capabilities = []hookd.Capability{hookd.CapViewBase, hookd.CapCreateAttempts}
			tk.FeatureFlags = []string{"beta"}
			tk.SessionID = "user_1"
			tk.ExpiresAt = &exp
		})
		got, err := f.s.TokenByHash(f.ctx, want.Hash)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("TokenByHash = %+v, want %+v", got, want)
		}
		admin := f.token(hookd.TokenAdmin, func(tk *hookd.Token) { tk.Name = "ci"; tk.ReadOnly = true })
		got, err = f.s.TokenByHash(f.ctx, admin.Hash)
		must(t, err)
		if !reflect.DeepEqual(got, admin) {
			t.Fatalf("TokenByHash = %+v, want %+v", got, admin)
		}
		_, err = f.s.TokenByHash(f.ctx, hookd.HashToken("unknown"))
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"AdminNamesUnique", func(t *testing.T, f *fixture) {
		f.token(hookd.TokenAdmin, func(tk *hookd.Token) { tk.Name = "ci" })
		dup := &hookd.Token{ID: f.id(hookd.PrefixAPIKeyID), Kind: hookd.TokenAdmin, Name: "ci",
			Hash: hookd.HashToken("other"), CreatedAt: f.now}
		wantCode(t, f.s.CreateToken(f.ctx, dup), hookd.ECONFLICT)
		// Application tokens have no names to clash.
		f.token(hookd.TokenApp, func(tk *hookd.Token) { tk.AppID = "app_a" })
		f.token(hookd.TokenApp, func(tk *hookd.Token) { tk.AppID = "app_a" })
	}},
	{"ListByKind", func(t *testing.T, f *fixture) {
		a1 := f.token(hookd.TokenAdmin, func(tk *hookd.Token) { tk.Name = "one" })
		f.token(hookd.TokenApp, func(tk *hookd.Token) { tk.AppID = "app_a" })
		a2 := f.token(hookd.TokenAdmin, func(tk *hookd.Token) { tk.Name = "two" })
		got, err := f.s.Tokens(f.ctx, hookd.TokenAdmin, hookd.Page{Limit: 10, Ascending: true})
		must(t, err)
		if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID {
			t.Fatalf("Tokens(admin) = %v", tokenIDs(got))
		}
		got, err = f.s.Tokens(f.ctx, hookd.TokenAdmin, hookd.Page{Limit: 10, Iterator: a2.ID})
		must(t, err)
		if len(got) != 1 || got[0].ID != a1.ID {
			t.Fatalf("second page = %v", tokenIDs(got))
		}
	}},
	{"ExpireNeverExtends", func(t *testing.T, f *fixture) {
		tk := f.token(hookd.TokenAdmin, func(tk *hookd.Token) { tk.Name = "x" })
		must(t, f.s.ExpireToken(f.ctx, tk.ID, t0.Add(time.Hour)))
		must(t, f.s.ExpireToken(f.ctx, tk.ID, t0.Add(2*time.Hour)))
		got, err := f.s.TokenByHash(f.ctx, tk.Hash)
		must(t, err)
		if got.ExpiresAt == nil || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("ExpiresAt = %v, want the earlier time", got.ExpiresAt)
		}
		wantCode(t, f.s.ExpireToken(f.ctx, "key_missing", t0), hookd.ENOTFOUND)
	}},
	{"ExpireAppTokensBySession", func(t *testing.T, f *fixture) {
		mk := func(app, session string) *hookd.Token {
			return f.token(hookd.TokenApp, func(tk *hookd.Token) { tk.AppID = app; tk.SessionID = session })
		}
		s1, s2, none, other := mk("app_a", "s1"), mk("app_a", "s2"), mk("app_a", ""), mk("app_b", "s1")
		admin := f.token(hookd.TokenAdmin, func(tk *hookd.Token) { tk.Name = "admin" })
		n, err := f.s.ExpireAppTokens(f.ctx, "app_a", []string{"s1"}, t0)
		must(t, err)
		if n != 1 {
			t.Fatalf("expired %d tokens of session s1, want 1", n)
		}
		n, err = f.s.ExpireAppTokens(f.ctx, "app_a", nil, t0.Add(time.Minute))
		must(t, err)
		if n != 2 {
			t.Fatalf("expired %d remaining tokens of app_a, want 2", n)
		}
		for _, tc := range []struct {
			tk   *hookd.Token
			want *time.Time
		}{{s1, &t0}, {s2, ptr(t0.Add(time.Minute))}, {none, ptr(t0.Add(time.Minute))}, {other, nil}, {admin, nil}} {
			got, err := f.s.TokenByHash(f.ctx, tc.tk.Hash)
			must(t, err)
			if (got.ExpiresAt == nil) != (tc.want == nil) || (tc.want != nil && !got.ExpiresAt.Equal(*tc.want)) {
				t.Errorf("%s (%s/%s): ExpiresAt = %v, want %v", got.ID, got.AppID, got.SessionID, got.ExpiresAt, tc.want)
			}
		}
	}},
}

func ptr[T any](v T) *T { return &v }

func tokenIDs(ts []*hookd.Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

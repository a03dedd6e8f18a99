package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
)

func TestTokenCmd(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hookd.db")
	out, code, err := execCmd(t, newTokenCmd, "", "create", "--db", db, "--name", "ci")
	if code != exitOK {
		t.Fatalf("create: exit %d: %v", code, err)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "hkd_") {
		t.Fatalf("create printed %q", out)
	}
	if _, code, _ := execCmd(t, newTokenCmd, "", "create", "--db", db, "--name", "ci"); code != exitUsage {
		t.Fatalf("second key named ci: exit %d, want %d", code, exitUsage)
	}
	ro, _, _ := execCmd(t, newTokenCmd, "", "create", "--db", db, "--name", "viewer", "--read-only")

	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DB = "127.0.0.1:0", db
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if srv.NewAdminToken() != "" {
		t.Fatal("the server generated a key although the database has two")
	}
	call := func(method, token string) int {
		req, _ := http.NewRequest(method, srv.URL()+"/api/v1/app", strings.NewReader(`{"name":"x"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := call("POST", key); c != 201 {
		t.Fatalf("created key: %d", c)
	}
	if c := call("GET", strings.TrimSpace(ro)); c != 200 {
		t.Fatalf("read-only key reading: %d", c)
	}
	if c := call("POST", strings.TrimSpace(ro)); c != 403 {
		t.Fatalf("read-only key writing: %d, want 403", c)
	}

	out, code, err = execCmd(t, newTokenCmd, "", "list", "--db", db)
	if code != exitOK || !strings.Contains(out, "ci") || !strings.Contains(out, "read-only") || strings.Contains(out, "hkd_") {
		t.Fatalf("list: exit %d %v:\n%s", code, err, out)
	}
	if _, code, err := execCmd(t, newTokenCmd, "", "expire", "--db", db, "ci"); code != exitOK {
		t.Fatalf("expire: exit %d: %v", code, err)
	}
	if _, code, _ := execCmd(t, newTokenCmd, "", "expire", "--db", db, "nobody"); code != exitFailure {
		t.Fatalf("expire of an unknown key: exit %d", code)
	}
	out, _, _ = execCmd(t, newTokenCmd, "", "list", "--db", db)
	if !strings.Contains(out, "(expired)") {
		t.Fatalf("list after expire:\n%s", out)
	}
	// The server trusts a looked-up key for at most a second; poll within a bound.
	for i := 0; call("GET", key) != 401; i++ {
		if i == 100 {
			t.Fatal("expired key still works")
		}
		waitTick()
	}
}

func waitTick() { <-time.After(20 * time.Millisecond) }

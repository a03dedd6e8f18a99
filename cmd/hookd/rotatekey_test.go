package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/server"
)

// TestRotateKeyCmd rotates the key file of a SQLite database while its server runs:
// the server keeps reading its secrets, the key file holds the new key, and a restart
// works with it.
func TestRotateKeyCmd(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hookd.db")
	open := func() *server.Server {
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.DB, cfg.AdminToken = "127.0.0.1:0", db, "rotate-key-test-token-0123"
		srv := server.New(cfg)
		if err := srv.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		return srv
	}
	call := func(srv *server.Server, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer rotate-key-test-token-0123")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	srv := open()
	if code, b := call(srv, "POST", "/api/v1/app", `{"name":"a","uid":"a"}`); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	const secret = "whsec_cm90YXRlLWtleS10ZXN0LXNlY3JldC0wMTIz"
	if code, b := call(srv, "POST", "/api/v1/app/a/endpoint", `{"url":"https://example.com","uid":"e","secret":"`+secret+`"}`); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	before, err := os.ReadFile(server.KeyFile(db))
	if err != nil {
		t.Fatal(err)
	}
	if _, code, err := execCmd(t, newRotateKeyCmd, "", "--db", db, "--settle", "3s"); code != exitOK {
		t.Fatalf("rotate-key: exit %d: %v", code, err)
	}
	after, err := os.ReadFile(server.KeyFile(db))
	if err != nil || string(after) == string(before) {
		t.Fatalf("key file after rotate-key: %v (changed: %v)", err, string(after) != string(before))
	}
	if fi, _ := os.Stat(server.KeyFile(db)); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	// The running server loaded the new data key within the settle time.
	code, b := call(srv, "GET", "/api/v1/app/a/endpoint/e/secret", "")
	var out struct{ Key string }
	if code != 200 || json.Unmarshal([]byte(b), &out) != nil || out.Key != secret {
		t.Fatalf("secret from the running server: %d %s", code, b)
	}
	_ = srv.Close()
	srv = open()
	if code, b := call(srv, "GET", "/api/v1/app/a/endpoint/e/secret", ""); code != 200 || !strings.Contains(b, secret) {
		t.Fatalf("secret after a restart on the new key: %d %s", code, b)
	}
	// The old key no longer opens the database.
	if _, code, _ := execCmd(t, newRotateKeyCmd, "", "--db", db, "--encryption-key", strings.TrimSpace(string(before)), "--settle", "-1s"); code == exitOK {
		t.Fatal("rotate-key with the old key succeeded")
	}
}

package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/hookdtest"
)

// TestServeBinaryEnvironment configures the real binary through HOOKD_* variables
// only, as a container deployment would.
func TestServeBinaryEnvironment(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	db := filepath.Join(t.TempDir(), "env.db")
	const token = "env-admin-token-0123456789"
	p := hookdtest.StartServe(t, bin,
		[]string{"HOOKD_ADDR=127.0.0.1:0", "HOOKD_DB=" + db, "HOOKD_ADMIN_TOKEN=" + token, "HOOKD_LOG_LEVEL=warn"})
	if p.Token != "" {
		t.Fatalf("printed a generated token although HOOKD_ADMIN_TOKEN is set:\n%s", p.Printed())
	}
	if !strings.Contains(p.Printed(), db) {
		t.Errorf("output does not name the HOOKD_DB file %s:\n%s", db, p.Printed())
	}
	if _, err := newClient(t, p.URL, token).Application.List(context.Background(), nil); err != nil {
		t.Fatalf("API with the HOOKD_ADMIN_TOKEN token: %v", err)
	}
	_, err := newClient(t, p.URL, token+"x").Application.List(context.Background(), nil)
	wantStatus(t, err, 401)
	p.Stop(t)
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("HOOKD_DB file: %v", err)
	}
}

func TestServeBinaryBadEnvironment(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	tests := []struct {
		env, want string
	}{
		{"HOOKD_WORKERS=many", "HOOKD_WORKERS"},
		{"HOOKD_ALLOW_PRIVATE=maybe", "HOOKD_ALLOW_PRIVATE"},
		{"HOOKD_RETRY_SCHEDULE=soon", "retry-schedule"},
		{"HOOKD_ADMIN_TOKEN=short", "admin-token"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--db", filepath.Join(t.TempDir(), "h.db"))
			cmd.Env = hookdtest.Environ(tt.env)
			wantUsageError(t, cmd, tt.want)
		})
	}
}

// TestServeBinarySecretFiles gives the real binary its admin token and operational
// webhook secret in files (HOOKD_ADMIN_TOKEN_FILE, --operational-webhook-secret-file):
// the token works, appears nowhere on the command line, and giving a secret twice is a
// usage error.
func TestServeBinarySecretFiles(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	dir := t.TempDir()
	const token = "file-admin-token-0123456789"
	tokenFile := filepath.Join(dir, "token")
	secretFile := filepath.Join(dir, "ops-secret")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "files.db")
	p := hookdtest.StartServe(t, bin, []string{"HOOKD_ADMIN_TOKEN_FILE=" + tokenFile},
		"--addr", "127.0.0.1:0", "--db", db, "--operational-webhook-url", "http://127.0.0.1:9/ops",
		"--operational-webhook-secret-file", secretFile)
	if p.Token != "" {
		t.Fatalf("printed a generated token although HOOKD_ADMIN_TOKEN_FILE is set:\n%s", p.Printed())
	}
	if _, err := newClient(t, p.URL, token).Application.List(context.Background(), nil); err != nil {
		t.Fatalf("API with the token from HOOKD_ADMIN_TOKEN_FILE: %v", err)
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	p.Stop(t)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-token", token, "--admin-token-file", tokenFile}, "admin-token-file"},
		{[]string{"--admin-token-file", filepath.Join(dir, "missing")}, "admin-token-file"},
		{[]string{"--operational-webhook-secret", "whsec_x", "--operational-webhook-secret-file", secretFile}, "operational-webhook-secret-file"},
	} {
		cmd := exec.Command(bin, append([]string{"serve", "--db", filepath.Join(t.TempDir(), "h.db")}, tt.args...)...)
		cmd.Env = hookdtest.Environ()
		wantUsageError(t, cmd, tt.want)
	}
}

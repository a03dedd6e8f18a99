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

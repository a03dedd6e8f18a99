package server_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/hookdtest"
)

func TestServeBinaryAdminToken(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	db := filepath.Join(t.TempDir(), "hookd.db")
	ctx := context.Background()

	first := hookdtest.StartServe(t, bin, nil, "--addr", "127.0.0.1:0", "--db", db)
	if first.Token == "" {
		t.Fatalf("first start printed no admin token; output:\n%s", first.Printed())
	}
	if _, err := newClient(t, first.URL, first.Token).Application.List(ctx, nil); err != nil {
		t.Fatalf("API with the printed token: %v", err)
	}
	_, err := newClient(t, first.URL, first.Token+"x").Application.List(ctx, nil)
	wantStatus(t, err, 401)
	first.Stop(t)

	second := hookdtest.StartServe(t, bin, nil, "--addr", "127.0.0.1:0", "--db", db)
	if second.Token != "" || strings.Contains(second.Printed(), "hkd_") {
		t.Fatalf("restart printed a token again; output:\n%s", second.Printed())
	}
	if _, err := newClient(t, second.URL, first.Token).Application.List(ctx, nil); err != nil {
		t.Fatalf("first token after restart: %v", err)
	}
	second.Stop(t)
}

func TestServeBinaryBadFlag(t *testing.T) {
	bin := hookdtest.BuildBinary(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"retry schedule", []string{"--retry-schedule", "soon"}, "retry-schedule"},
		{"short token", []string{"--admin-token", "short"}, "admin-token"},
		{"cidr", []string{"--allow-cidr", "10.0.0.0"}, "allow-cidr"},
		{"log format", []string{"--log-format", "xml"}, "log-format"},
		{"address without port", []string{"--addr", "localhost"}, "addr"},
		{"address with a bad port", []string{"--addr", "127.0.0.1:99999"}, "addr"},
		{"proxy scheme", []string{"--proxy", "ftp://proxy:21"}, "proxy"},
		{"source address", []string{"--source-addr", "127.0.0.2,nowhere"}, "source-addr"},
		{"egress IPs", []string{"--egress-ips", "203.0.113.0/33"}, "egress-ips"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve", "--db", filepath.Join(t.TempDir(), "h.db")}, tt.args...)...)
			cmd.Env = hookdtest.Environ()
			wantUsageError(t, cmd, tt.want)
		})
	}
}

// wantUsageError runs cmd and fails the test unless it exits with status 2 and
// output naming want.
func wantUsageError(t *testing.T, cmd *exec.Cmd, want string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), want) {
		t.Fatalf("exit %v, output %q; want exit 2 naming %s", err, out, want)
	}
}

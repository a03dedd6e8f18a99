// Package hookdtest runs the real hookd binary for end-to-end tests: it builds
// cmd/hookd once per test binary, starts `hookd serve` as a child process and calls
// its REST API. Only tests import it.
package hookdtest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// BuildBinary returns the path of a hookd binary built from this module, or the one
// HOOKD_TEST_BIN names. The build happens once per test binary; with -short, a test
// that would need it is skipped.
func BuildBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("HOOKD_TEST_BIN"); bin != "" {
		return bin
	}
	if testing.Short() {
		t.Skip("builds the hookd binary: skipped with -short")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildOnce builds the binary into a directory of the temporary directory named
// after the module's path, and moves it into place with a rename: the packages that
// go test runs side by side each build it and never see a half-written file, and
// repeated runs leave one binary per checkout behind rather than one per run.
var buildOnce = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "hookdtest-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	build := exec.Command("go", "build", "-o", filepath.Join(tmp, "hookd"), "github.com/hookd/hookd/cmd/hookd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "hookd")
	if err := os.Rename(filepath.Join(tmp, "hookd"), bin); err != nil {
		return "", err
	}
	return bin, nil
})

// moduleRoot returns the directory holding go.mod, above the working directory that
// go test gives a package's tests.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

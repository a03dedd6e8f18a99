package main

import (
	"context"
	"path/filepath"
	"testing"
)

// TestUsageErrorsExit2 runs wrong command lines in-process: each is a usage error by
// its type, whatever cobra's message says, and exits 2.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hookd.db")
	for _, args := range [][]string{
		{"aplication", "list"},          // unknown command
		{"serv"},                        // unknown command with a suggestion
		{"app", "nope"},                 // unknown subcommand
		{"app", "get"},                  // too few arguments
		{"app", "get", "a", "b"},        // too many
		{"serve", "extra"},              // no arguments taken
		{"app", "list", "--colour"},     // unknown flag
		{"--colour"},                    // unknown flag of the root
		{"token", "create", "--db", db}, // a required flag left out
		{"app", "list", "--limit", "x"}, // a flag's value of the wrong type
	} {
		if code := run(context.Background(), args); code != exitUsage {
			t.Errorf("hookd %q exits %d, want %d", args, code, exitUsage)
		}
	}
}

// TestCommandsRegistered checks the root has each command of the list once.
func TestCommandsRegistered(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range newRootCmd().Commands() {
		if seen[c.Name()] {
			t.Errorf("command %s registered twice", c.Name())
		}
		seen[c.Name()] = true
	}
	for _, name := range []string{"serve", "migrate", "rotate-key", "token", "login", "app", "endpoint", "event-type",
		"message", "attempt", "task", "trigger", "listen", "replay", "sign", "verify", "bench"} {
		if !seen[name] {
			t.Errorf("command %s is not registered", name)
		}
	}
}

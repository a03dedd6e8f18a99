package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMigrateCmd(t *testing.T) {
	tests := []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "hookd.db") }},
		{"postgres", migrateTestPostgres},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			for range 2 { // the second run finds nothing to do
				out, code, err := execCmd(t, newMigrateCmd, "", "--db", db)
				if code != exitOK {
					t.Fatalf("migrate: exit %d: %v", code, err)
				}
				if !strings.HasPrefix(out, "database schema is at version ") || strings.Contains(out, "version 0") {
					t.Errorf("output = %q", out)
				}
			}
		})
	}
}

func TestMigrateCmdErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"empty db", []string{"--db", ""}, exitUsage},
		{"keyword/value connection string", []string{"--db", "host=127.0.0.1 user=postgres dbname=test"}, exitUsage},
		{"another kind of URL", []string{"--db", "mysql://root@127.0.0.1/hookd"}, exitUsage},
		{"unreachable postgres", []string{"--db", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}, exitError},
		{"sqlite in missing directory", []string{"--db", filepath.Join(t.TempDir(), "missing", "hookd.db")}, exitError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, code, err := execCmd(t, newMigrateCmd, "", tc.args...); code != tc.code {
				t.Errorf("exit %d (%v), want %d", code, err, tc.code)
			}
		})
	}
}

// migrateTestPostgres returns a DSN that selects a fresh schema, dropped afterwards.
func migrateTestPostgres(t *testing.T) string {
	dsn := os.Getenv("HOOKD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("HOOKD_TEST_POSTGRES not set: skipping PostgreSQL tests")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hookd_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

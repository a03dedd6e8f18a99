package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
)

// testDSN returns the DSN of the test database, or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("HOOKD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("HOOKD_TEST_POSTGRES not set: skipping PostgreSQL tests")
	}
	return dsn
}

// newSchema returns the name of a fresh schema that is dropped when the test ends.
func newSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hookd_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openStore opens a store on schema, closed when the test ends.
func openStore(t testing.TB, dsn, schema string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 4, Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrateTwice(t *testing.T) {
	dsn := testDSN(t)
	s := openStore(t, dsn, newSchema(t, dsn))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("schema_migrations has %d rows, want at least 1", n)
	}
}

// TestOpenConcurrently starts several nodes on one new schema at once: the schema is
// created and migrated exactly once.
func TestOpenConcurrently(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	const nodes = 4
	errs := make(chan error, nodes)
	for range nodes {
		go func() {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2, Schema: schema})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	s := openStore(t, dsn, schema)
	var n, want int
	if err := s.Pool().QueryRow(t.Context(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&n, &want); err != nil {
		t.Fatal(err)
	}
	if n != want || n == 0 {
		t.Errorf("schema_migrations: %d rows for %d versions", n, want)
	}
}

func TestOpenInvalidDSN(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://%zz", postgres.Options{})
	if hookd.ErrorCode(err) != hookd.EINVALID {
		t.Errorf("Open(bad DSN) error = %v, want code %q", err, hookd.EINVALID)
	}
}

// TestSchemaSelection opens stores on schemas named through Options and through the
// DSN's search_path, with names that need quoting or case folding.
func TestSchemaSelection(t *testing.T) {
	dsn := testDSN(t)
	tests := []struct {
		name string
		open func(t *testing.T, schema string) (*postgres.Store, error)
		// want is the schema the tables must end up in.
		want func(schema string) string
	}{
		{"options mixed case", func(t *testing.T, schema string) (*postgres.Store, error) {
			return postgres.Open(t.Context(), dsn, postgres.Options{Schema: schema})
		}, func(s string) string { return s }},
		{"dsn search_path folds case", func(t *testing.T, schema string) (*postgres.Store, error) {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			return postgres.Open(t.Context(), dsn+sep+"search_path="+schema, postgres.Options{})
		}, strings.ToLower},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := newSchema(t, dsn)
			schema := "Mixed_" + base
			newSchemaNamed(t, dsn, tc.want(schema))
			s, err := tc.open(t, schema)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var got string
			if err := s.Pool().QueryRow(t.Context(), `SELECT table_schema FROM information_schema.tables
				WHERE table_name = 'deliveries' AND table_schema = $1`, tc.want(schema)).Scan(&got); err != nil {
				t.Fatalf("deliveries table in %q: %v", tc.want(schema), err)
			}
		})
	}
}

// newSchemaNamed drops the schema name when the test ends.
func newSchemaNamed(t *testing.T, dsn, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
}

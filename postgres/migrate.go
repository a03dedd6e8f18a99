package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations that the database has not seen yet, each
// in its own transaction. An advisory lock (per schema) serialises nodes that start at
// the same time, so each migration runs once.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.migrate(ctx)
	return err
}

// SchemaVersion applies pending migrations (as Open did already) and returns the
// database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) { return s.migrate(ctx) }

// migrate applies the pending migrations and returns the schema version.
func (s *Store) migrate(ctx context.Context) (int, error) {
	ms, err := migration.Load(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()

	const lockKey = "hashtext('hookd_migrate:' || coalesce(current_schema(), ''))"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+lockKey+")"); err != nil {
		return 0, fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even if ctx is done, or the
		// connection goes back to the pool still holding it.
		_, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock("+lockKey+")")
		if err != nil {
			conn.Conn().Close(context.Background())
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	return migration.Run(ctx, migrationTarget{conn}, ms)
}

// migrationTarget applies migrations on one connection, which holds the advisory lock.
type migrationTarget struct{ conn *pgxpool.Conn }

func (t migrationTarget) Applied(ctx context.Context) (map[int]bool, error) {
	rows, err := t.conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, err
	}
	applied := make(map[int]bool, len(vs))
	for _, v := range vs {
		applied[v] = true
	}
	return applied, nil
}

func (t migrationTarget) Apply(ctx context.Context, m migration.Migration) error {
	return pgx.BeginFunc(ctx, t.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		return nil
	})
}

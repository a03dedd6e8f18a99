package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/sqlite"
)

func newMigrateCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema migrations and exit",
		Long: `migrate brings the database's schema up to date and exits. hookd serve does the
same on start, so migrate is only needed to upgrade the schema ahead of a rollout or
from a deploy job. It is safe to run while nodes are starting: on PostgreSQL an
advisory lock lets one process apply each migration.`,
		Example: `  hookd migrate --db ./hookd.db
  hookd migrate --db postgres://hookd@db.internal:5432/hookd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := server.ValidateDB(db); err != nil {
				return withCode(exitUsage, err)
			}
			version, err := migrate(cmd.Context(), db)
			if err != nil {
				return withCode(exitError, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database schema is at version %d\n", version)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "./hookd.db", "SQLite file path or postgres:// URL")
	return cmd
}

// migrate applies pending migrations to db (opening a store applies them) and
// returns the schema version afterwards.
func migrate(ctx context.Context, db string) (int, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		s, err := postgres.Open(ctx, db, postgres.Options{MaxConns: 2})
		if err != nil {
			return 0, fmt.Errorf("migrate postgres: %w", err)
		}
		defer s.Close()
		return s.SchemaVersion(ctx)
	}
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("migrate sqlite %s: %w", db, err)
	}
	defer s.Close()
	return s.SchemaVersion(ctx)
}

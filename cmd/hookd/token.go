package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/server"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and expire admin API keys",
		Long: `token manages the admin API keys of a hookd database directly (no running server
is needed, so it also lets you back in after losing every key). Only a hash of each
key is stored: create prints the key once.

Read-only keys may use GET routes (never endpoint secrets). The same operations are
served at /api/v1/auth/api-key.`,
		Example: `  hookd token create --name ci
  hookd token list
  hookd token expire ci`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenExpireCmd())
	return cmd
}

func dbFlag(cmd *cobra.Command, db *string) {
	cmd.Flags().StringVar(db, "db", "./hookd.db", "SQLite file path or postgres:// URL")
}

// withStore opens db, runs fn and closes the store.
func withStore(ctx context.Context, db string, fn func(hookd.Store) error) error {
	cfg := server.DefaultConfig()
	cfg.DB = db
	cfg.DBMaxConns, cfg.DBMinConns = 2, 1
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return withCode(exitError, err)
	}
	defer st.Close()
	if err := fn(st); err != nil {
		var ce *codedError
		if errors.As(err, &ce) {
			return err
		}
		return withCode(exitError, err)
	}
	return nil
}

func newTokenCreateCmd() *cobra.Command {
	var (
		db, name  string
		readOnly  bool
		expiresIn time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an admin API key and print it once",
		Example: `  hookd token create --name ci
  hookd token create --name grafana --read-only --expires-in 720h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return withCode(exitUsage, errors.New(`required flag "name" not set`))
			}
			if err := api.CheckKeyName(name); err != nil {
				return withCode(exitUsage, fmt.Errorf("name: %s", err.(*hookd.Error).Message))
			}
			if expiresIn < 0 || (expiresIn > 0 && expiresIn < time.Minute) {
				return withCode(exitUsage, errors.New("expires-in: must be at least 1m (or 0 for never)"))
			}
			return withStore(cmd.Context(), db, func(st hookd.Store) error {
				now := time.Now().UTC()
				var exp *time.Time
				if expiresIn > 0 {
					at := now.Add(expiresIn)
					exp = &at
				}
				t, key := api.NewAPIKey(hookd.IDGen{}, name, readOnly, now, exp)
				if err := st.CreateToken(cmd.Context(), t); err != nil {
					if hookd.IsConflict(err) {
						return withCode(exitUsage, fmt.Errorf("name: an API key named %q exists already", name))
					}
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), key)
				fmt.Fprintf(cmd.ErrOrStderr(), "hookd: created API key %s (%s); the key above is shown only this once\n", t.ID, name)
				return nil
			})
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVar(&name, "name", "", "the key's unique name (letters, digits, '-', '_', '.')")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "the key may only read")
	cmd.Flags().DurationVar(&expiresIn, "expires-in", 0, "the key stops working after this long (0: never)")
	return cmd
}

func newTokenListCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the admin API keys (never the keys themselves)",
		Example: `  hookd token list --db ./hookd.db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), db, func(st hookd.Store) error {
				keys, err := allKeys(cmd.Context(), st)
				if err != nil {
					return err
				}
				printKeys(cmd.OutOrStdout(), keys, time.Now())
				return nil
			})
		},
	}
	dbFlag(cmd, &db)
	return cmd
}

func allKeys(ctx context.Context, st hookd.Store) ([]*hookd.Token, error) {
	var out []*hookd.Token
	p := hookd.Page{Limit: 250, Ascending: true}
	for {
		keys, err := st.Tokens(ctx, hookd.TokenAdmin, p)
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
		if len(keys) < p.Limit {
			return out, nil
		}
		p.Iterator = keys[len(keys)-1].ID
	}
}

func printKeys(w io.Writer, keys []*hookd.Token, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tACCESS\tCREATED\tEXPIRES")
	for _, k := range keys {
		access := "read-write"
		if k.ReadOnly {
			access = "read-only"
		}
		exp := "never"
		if k.ExpiresAt != nil {
			exp = k.ExpiresAt.UTC().Format(time.RFC3339)
			if k.Expired(now) {
				exp += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, access, k.CreatedAt.UTC().Format(time.RFC3339), exp)
	}
	_ = tw.Flush()
}

func newTokenExpireCmd() *cobra.Command {
	var (
		db string
		in time.Duration
	)
	cmd := &cobra.Command{
		Use:   "expire ID|NAME",
		Short: "Make an admin API key stop working, now or after --in",
		Example: `  hookd token expire admin-token
  hookd token expire key_2aXbJcLk9YqEz3hVbN0PdW --in 24h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in < 0 {
				return withCode(exitUsage, errors.New("in: must not be negative"))
			}
			return withStore(cmd.Context(), db, func(st hookd.Store) error {
				keys, err := allKeys(cmd.Context(), st)
				if err != nil {
					return err
				}
				for _, k := range keys {
					if k.ID == args[0] || k.Name == args[0] {
						at := time.Now().Add(in).UTC()
						if err := st.ExpireToken(cmd.Context(), k.ID, at); err != nil {
							return err
						}
						fmt.Fprintf(cmd.OutOrStdout(), "API key %s (%s) expires at %s\n", k.ID, k.Name, at.Format(time.RFC3339))
						return nil
					}
				}
				return withCode(exitFailure, fmt.Errorf("no API key with ID or name %q (see hookd token list)", args[0]))
			})
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().DurationVar(&in, "in", 0, "expire after this long instead of now")
	return cmd
}

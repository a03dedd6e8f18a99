package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/crypt"
	"github.com/hookd/hookd/server"
)

func newRotateKeyCmd() *cobra.Command {
	cfg := server.DefaultConfig()
	var (
		newKey, newKeyFile string
		settle             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt the stored secrets under a new main encryption key, without downtime",
		Long: `rotate-key moves the database's secrets to a new main encryption key while hookd
serve keeps running on it, on any number of nodes:

  1. a new data key is added, opened by the current and the new main key;
  2. every secret is re-encrypted under the new data key;
  3. after --settle (running nodes reload the keys every 2 s), the current main key
     stops opening the database.

Running nodes keep working throughout and after; a node started afterwards needs the
new key. Interrupted, rotate-key can be run again with the current key.

The current key is found as hookd serve finds it (--encryption-key, HOOKD_ENCRYPTION_KEY,
--encryption-key-file, or the key file beside a SQLite database). The new key is
--new-encryption-key or --new-encryption-key-file, or else a new random one: written to
the key file the current key came from, or printed once on stdout when the current key
was given directly.`,
		Example: `  hookd rotate-key --db ./hookd.db
  HOOKD_ENCRYPTION_KEY=$OLD hookd rotate-key --db postgres://hookd@db/hookd --new-encryption-key "$NEW"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if newKey != "" && newKeyFile != "" {
				return withCode(exitUsage, errors.New("new-encryption-key: give it or --new-encryption-key-file, not both"))
			}
			var next crypt.Key
			generated := false
			switch {
			case newKey != "":
				k, err := crypt.ParseKey(newKey)
				if err != nil {
					return withCode(exitUsage, fmt.Errorf("new-encryption-key: %w", err))
				}
				next = k
			case newKeyFile != "":
				b, err := os.ReadFile(newKeyFile)
				if err != nil {
					return withCode(exitUsage, fmt.Errorf("new-encryption-key-file: %w", err))
				}
				if next, err = crypt.ParseKey(string(b)); err != nil {
					return withCode(exitUsage, fmt.Errorf("new-encryption-key-file: %s: %w", newKeyFile, err))
				}
			default:
				next, generated = crypt.NewKey(), true
			}
			return withStore(cmd.Context(), cfg.DB, func(st hookd.Store) error {
				ctx := cmd.Context()
				ok, err := crypt.Exists(ctx, st)
				if err != nil {
					return err
				}
				if !ok {
					return withCode(exitFailure, errors.New("the database has no encryption keys yet: start hookd serve on it once"))
				}
				old, _, err := server.MainKey(ctx, cfg, st)
				if err != nil {
					return withCode(exitUsage, err)
				}
				keyFile := ""
				if cfg.EncryptionKey == "" {
					keyFile = cfg.EncryptionKeyFile
					if keyFile == "" {
						keyFile = server.KeyFile(cfg.DB)
					}
				}
				errOut := cmd.ErrOrStderr()
				return crypt.Rotate(ctx, st, old, next, crypt.RotateOptions{
					Settle: settle,
					Step:   func(msg string) { fmt.Fprintln(errOut, "hookd: rotate-key:", msg) },
					Added: func() error {
						switch {
						case generated && keyFile != "":
							if err := writeKeyFile(keyFile, next); err != nil {
								return err
							}
							fmt.Fprintf(errOut, "hookd: rotate-key: the new key is in %s\n", keyFile)
						case generated:
							fmt.Fprintf(cmd.OutOrStdout(), "%s\n", next)
							fmt.Fprintln(errOut, "hookd: rotate-key: the new key is printed above, once: give it to every node (--encryption-key) before it restarts")
						}
						return nil
					},
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file path or postgres:// URL")
	fl.StringVar(&cfg.EncryptionKey, "encryption-key", "", "the current main key (default: --encryption-key-file or the key file beside a SQLite database)")
	fl.StringVar(&cfg.EncryptionKeyFile, "encryption-key-file", "", "file holding the current main key")
	fl.StringVar(&newKey, "new-encryption-key", "", "the new main key (32 bytes, base64 or hex); default: a new random key")
	fl.StringVar(&newKeyFile, "new-encryption-key-file", "", "file holding the new main key")
	fl.DurationVar(&settle, "settle", crypt.DefaultSettle, "how long running nodes get to load the new keys before the current main key stops working")
	return cmd
}

// writeKeyFile replaces path with key, atomically, mode 0600.
func writeKeyFile(path string, key crypt.Key) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := tmp.WriteString(key.String() + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

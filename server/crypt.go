package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/crypt"
)

// KeyFile returns the key file beside a SQLite database: the database path with
// ".key" added.
func KeyFile(db string) string { return db + ".key" }

// MainKey returns the main encryption key cfg names: --encryption-key, else the key
// file (--encryption-key-file, or the one beside a SQLite database). On a database
// that has no keyring yet, a missing key file beside SQLite is created (mode 0600)
// with a new key; created reports that. A database with encrypted secrets and no key
// is an error, never a fresh key.
func MainKey(ctx context.Context, cfg Config, st hookd.SettingStore) (key crypt.Key, created string, err error) {
	if cfg.EncryptionKey != "" {
		k, err := crypt.ParseKey(cfg.EncryptionKey)
		if err != nil {
			return k, "", fmt.Errorf("encryption-key: %w", err)
		}
		return k, "", nil
	}
	path := cfg.EncryptionKeyFile
	if path == "" {
		switch {
		case cfg.IsPostgres():
			return key, "", errors.New("encryption-key: required with PostgreSQL, the same on every node: secrets are encrypted at rest " +
				"(give --encryption-key, HOOKD_ENCRYPTION_KEY or --encryption-key-file; make a key with: openssl rand -base64 32)")
		case cfg.DB == ":memory:" || strings.HasPrefix(cfg.DB, "file::memory:"):
			return crypt.NewKey(), "", nil
		}
		path = KeyFile(cfg.DB)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := crypt.ParseKey(string(b))
		if err != nil {
			return k, "", fmt.Errorf("encryption-key-file: %s: %w", path, err)
		}
		return k, "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return key, "", fmt.Errorf("encryption-key-file: %w", err)
	}
	encrypted, err := crypt.Exists(ctx, st)
	if err != nil {
		return key, "", fmt.Errorf("read keyring: %w", err)
	}
	if encrypted {
		return key, "", fmt.Errorf("encryption-key: the database's secrets are encrypted, but its key file %s is missing: "+
			"restore it, or give the key with --encryption-key", path)
	}
	key = crypt.NewKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return key, "", fmt.Errorf("encryption-key-file: create %s: %w", path, err)
	}
	if _, err := f.WriteString(key.String() + "\n"); err != nil {
		f.Close()
		return key, "", fmt.Errorf("encryption-key-file: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return key, "", fmt.Errorf("encryption-key-file: write %s: %w", path, err)
	}
	return key, path, nil
}

// openSealed opens the keyring of the store s.store holds with the configured main key,
// seals what is still plain text, and wraps the store so that secrets are sealed at
// rest from now on. A wrong or missing key fails here, before anything is served or
// sent.
func (s *Server) openSealed(ctx context.Context) error {
	key, created, err := MainKey(ctx, s.cfg, s.store)
	if err != nil {
		return err
	}
	if created != "" {
		s.log.Info("created the encryption key file; back it up with the database: without it the secrets cannot be read", "path", created)
	}
	k, err := crypt.Load(ctx, s.store, key, true)
	if err != nil {
		return fmt.Errorf("encryption-key: %w", err)
	}
	n, err := crypt.Reseal(ctx, s.store, k, false)
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("encrypted the secrets stored in plain text", "endpoints", n)
	}
	s.keyring = k
	s.store = crypt.Wrap(s.store, k)
	watchCtx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	go k.Watch(watchCtx, crypt.RefreshInterval, func(err error) {
		s.log.Warn("the encryption keys were rotated to another main key: this node keeps working with the keys it has, but must be restarted with the new key", "err", err)
	})
	return nil
}

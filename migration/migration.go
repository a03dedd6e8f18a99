// Package migration runs a store's numbered schema migrations, embedded as SQL files
// named after their version (0001_init.sql, 0002_nodes.sql, …). The sqlite and
// postgres packages share it, so that both read, order and apply their migrations
// by the same rules; each supplies how to read the applied versions and how to apply
// one migration in a transaction.
package migration

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // the file name, e.g. 0001_init.sql
	SQL     string
}

// Load reads the migrations *.sql in dir of fsys, in version order. Every name must
// start with a positive version number followed by '_', and no two may share a
// version.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	var ms []Migration
	for _, f := range files {
		name := path.Base(f)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must start with a version number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("load migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Target is a database that migrations are applied to.
type Target interface {
	// Applied returns the versions applied already.
	Applied(ctx context.Context) (map[int]bool, error)
	// Apply runs m and records its version in one transaction; if another process
	// recorded the version meanwhile it changes nothing.
	Apply(ctx context.Context, m Migration) error
}

// Run applies, in version order, the migrations of ms that t has not applied, and
// returns the schema version afterwards (0 for none). It stops at the first that
// fails.
func Run(ctx context.Context, t Target, ms []Migration) (int, error) {
	applied, err := t.Applied(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read versions: %w", err)
	}
	version := 0
	for v := range applied {
		version = max(version, v)
	}
	for _, m := range ms {
		if !applied[m.Version] {
			if err := t.Apply(ctx, m); err != nil {
				return version, fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
		version = max(version, m.Version)
	}
	return version, nil
}

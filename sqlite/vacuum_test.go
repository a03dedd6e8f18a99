package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/sqlite"
)

func pragma(t *testing.T, s *sqlite.Store, name string) int64 {
	t.Helper()
	var v int64
	if err := s.DB().QueryRow(`PRAGMA ` + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// oldFile makes a database file the way a hookd without incremental vacuum left it:
// WAL, auto_vacuum none, one table with one row.
func oldFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('row')`); err != nil {
		t.Fatal(err)
	}
	return path
}

// keptRow checks that oldFile's row is still there.
func keptRow(t *testing.T, s *sqlite.Store) {
	t.Helper()
	var v string
	if err := s.DB().QueryRow(`SELECT v FROM kept`).Scan(&v); err != nil || v != "row" {
		t.Fatalf("row of the existing file: %q, %v", v, err)
	}
}

// TestIncrementalVacuum checks that new and existing files use incremental
// auto_vacuum, and that ReclaimSpace gives the pages a purge freed back.
func TestIncrementalVacuum(t *testing.T) {
	t.Run("new file", func(t *testing.T) {
		if got := pragma(t, openStore(t), "auto_vacuum"); got != 2 {
			t.Fatalf("auto_vacuum = %d, want 2 (incremental)", got)
		}
	})
	t.Run("existing file", func(t *testing.T) {
		path := oldFile(t)
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := pragma(t, s, "auto_vacuum"); got != 2 {
			t.Fatalf("auto_vacuum = %d after opening a file made without it, want 2", got)
		}
		keptRow(t, s)
	})
	t.Run("existing large file", func(t *testing.T) {
		defer sqlite.SetVacuumOnOpenMax(1)()
		path := oldFile(t)
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("a file too large to rewrite at start must still open: %v", err)
		}
		defer s.Close()
		if got := pragma(t, s, "auto_vacuum"); got != 0 {
			t.Fatalf("auto_vacuum = %d after opening a file over the rewrite limit, want 0 (left as it was)", got)
		}
		keptRow(t, s)
	})
	t.Run("reclaim", func(t *testing.T) {
		s := openStore(t)
		ctx := context.Background()
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		ids := hookd.IDGen{Now: func() time.Time { return at }}
		app := &hookd.Application{ID: ids.New(hookd.PrefixApp), Name: "a", CreatedAt: at, UpdatedAt: at}
		if err := s.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
		payload := []byte(`{"data":"` + strings.Repeat("x", 8000) + `"}`)
		for range 2000 {
			m := &hookd.Message{ID: ids.New(hookd.PrefixMessage), AppID: app.ID, EventType: "e", Payload: payload, Timestamp: at}
			if _, err := s.CreateMessage(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
		full := pragma(t, s, "page_count")
		for range 10 {
			if _, err := s.PurgeMessages(ctx, at.Add(time.Hour), 500); err != nil {
				t.Fatal(err)
			}
		}
		if free := pragma(t, s, "freelist_count"); free < full/2 {
			t.Fatalf("after purging every message %d of %d pages are free, want most", free, full)
		}
		for range 10 {
			if err := s.ReclaimSpace(ctx, at, at); err != nil {
				t.Fatal(err)
			}
		}
		if free := pragma(t, s, "freelist_count"); free > 1024 {
			t.Errorf("after ReclaimSpace %d pages are still free, want at most the 1024 kept", free)
		}
		if pages := pragma(t, s, "page_count"); pages > full/2 {
			t.Errorf("after ReclaimSpace the file has %d pages of %d, want it to have shrunk", pages, full)
		}
	})
}

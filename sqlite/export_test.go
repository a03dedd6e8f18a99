package sqlite

import (
	"context"
	"testing"
)

// OpenReplaying opens an in-memory store whose writer runs every call twice: once in
// a transaction it rolls back, as after a failed call of its batch, then again in a
// savepoint, as commit does after such a failure.
func OpenReplaying(t *testing.T) *Store {
	s, err := Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	s.replayEveryWrite.Store(true)
	t.Cleanup(func() { s.Close() })
	return s
}

// SetVacuumOnOpenMax lowers the size above which Open leaves a file's auto_vacuum as
// it is, and returns the function that restores it.
func SetVacuumOnOpenMax(n int64) func() {
	old := vacuumOnOpenMax
	vacuumOnOpenMax = n
	return func() { vacuumOnOpenMax = old }
}

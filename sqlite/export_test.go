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

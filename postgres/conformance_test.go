package postgres_test

import (
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/storetest"
)

// TestConformance runs the storetest suite, each test on a fresh schema.
func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) hookd.Store {
		return openStore(t, dsn, newSchema(t, dsn))
	})
}

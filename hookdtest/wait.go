package hookdtest

import (
	"testing"
	"time"
)

// Eventually waits for cond to hold, checking it at first every millisecond and then
// less often (up to every 50 ms), for at most within; then it fails the test, naming
// what it waited for. Tests wait for the state they expect this way, never for a
// fixed time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

package bench_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/bench"
)

// TestFloorStore checks that the floor does the work it claims: a body that is not a
// message is refused, a message is committed once per key (a repeated key is
// refused), without a key as often as it comes, and every attempt is committed by
// the time Settle returns.
func TestFloorStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "floor.db")
	fs, err := bench.OpenFloorStore(path)
	if err != nil {
		t.Fatal(err)
	}
	msg := floorMessage
	const n = 300
	keepConcurrently(t, fs, n)
	for seq := int64(n + 2); seq < n+4; seq++ {
		if fresh, err := fs.Keep(seq, "", msg); err != nil || !fresh {
			t.Errorf("Keep without a key = %v, %v; want true, nil", fresh, err)
		}
	}
	at, err := fs.Settle()
	if err != nil || at.IsZero() {
		t.Fatalf("Settle() = %v, %v", at, err)
	}
	fs.Close()

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msgs, keyed, atts, joined int
	q := `SELECT (SELECT count(*) FROM messages), (SELECT count(key) FROM messages),
		(SELECT count(*) FROM attempts),
		(SELECT count(*) FROM attempts a INDEXED BY attempts_endpoint JOIN messages m ON m.id = a.msg_id
			WHERE a.endpoint >= 0 AND a.status_code = 204)`
	if err := db.QueryRowContext(context.Background(), q).Scan(&msgs, &keyed, &atts, &joined); err != nil {
		t.Fatal(err)
	}
	if msgs != n+2 || keyed != n || atts != 3*n || joined != 3*n {
		t.Errorf("messages %d (%d with a key), attempts %d (%d of stored messages); want %d (%d), %d (%d)",
			msgs, keyed, atts, joined, n+2, n, 3*n, 3*n)
	}
}

// TestFloor runs the floor phase beside the relay against a real server.
func TestFloor(t *testing.T) {
	url := startServer(t, "")
	for _, fanout := range []int{1, 3} {
		t.Run(fmt.Sprintf("fanout %d", fanout), func(t *testing.T) {
			cfg := quickConfig(url)
			cfg.Messages, cfg.Fanout = 100, fanout
			cfg.FloorDuration = 2 * time.Second
			res, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if p := res.Problems(); len(p) != 0 {
				t.Errorf("Problems() = %q", p)
			}
			want := int64(100 * fanout)
			if res.FloorDeliveries < want || res.FloorCommits <= 0 || res.FloorCommits > res.FloorDeliveries*2 {
				t.Errorf("floor: %d deliveries in %d commits, want at least %d deliveries", res.FloorDeliveries, res.FloorCommits, want)
			}
			if res.FloorPerS <= 0 || res.FloorRatio <= 0 || res.FloorCeilingRatio <= 0 || res.FloorCPUPerDeliveryMS <= 0 {
				t.Errorf("floor not measured: %+v", res)
			}
			if got := res.FloorPerS / res.RelayCeilingPerS; got != res.FloorRatio {
				t.Errorf("floor_ratio %v, want floor_per_s / relay_ceiling_per_s = %v", res.FloorRatio, got)
			}
		})
	}
}

// floorMessage is the body the floor stores' tests keep.
var floorMessage = []byte(`{"eventType":"hookd.bench","payload":{"n":1}}`)

// keepConcurrently checks that fs refuses bodies that are not messages, keeps n
// keyed messages sent at once (seq 1…n, keys key-0…) with three attempts each, and
// refuses a repeated key (seq n+1).
func keepConcurrently(t *testing.T, fs *bench.FloorStore, n int) {
	t.Helper()
	for _, bad := range []string{`{"n":1}`, `{"eventType":"a","payload":[1]}`, `{"eventType":"a"`} {
		if fresh, err := fs.Keep(1, "k", []byte(bad)); err == nil || fresh {
			t.Errorf("Keep(%s) = %v, %v; want an error", bad, fresh, err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			seq := int64(i + 1)
			fresh, err := fs.Keep(seq, fmt.Sprintf("key-%d", i), floorMessage)
			if err != nil || !fresh {
				t.Errorf("Keep(%d) = %v, %v; want true, nil", seq, fresh, err)
				return
			}
			for slot := range 3 {
				fs.Attempted(seq, slot, 204)
			}
		})
	}
	wg.Wait()
	if fresh, err := fs.Keep(int64(n+1), "key-7", floorMessage); err != nil || fresh {
		t.Errorf("Keep of a repeated key = %v, %v; want false, nil", fresh, err)
	}
}

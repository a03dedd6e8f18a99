package sqlite

import (
	"context"
	"time"
)

// Heartbeat records that node id is alive at now, forgets the nodes not seen since
// now-ttl and counts the rest.
func (s *Store) Heartbeat(ctx context.Context, id string, now time.Time, ttl time.Duration) (int, error) {
	var n int
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		if _, err := tx.exec(`DELETE FROM nodes WHERE seen_at <= ?`, ts(now.Add(-ttl))); err != nil {
			return false, err
		}
		if _, err := tx.exec(`INSERT INTO nodes (id, seen_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, id, ts(now)); err != nil {
			return false, err
		}
		return false, tx.queryRow(`SELECT count(*) FROM nodes`).Scan(&n)
	})
	return n, wrap("heartbeat", err)
}

// RemoveNode forgets node id.
func (s *Store) RemoveNode(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`DELETE FROM nodes WHERE id = ?`, id)
		return false, err
	})
	return wrap("remove node", err)
}

package postgres

import (
	"context"
	"fmt"
	"time"
)

// nodeRetention is how long a node that stopped sending heartbeats is remembered.
const nodeRetention = 24 * time.Hour

// Heartbeat records that node id is alive at now and counts the nodes seen since
// now-ttl, in one round trip.
func (s *Store) Heartbeat(ctx context.Context, id string, now time.Time, ttl time.Duration) (int, error) {
	var n int
	// The statement's snapshot does not see its own upsert: count the others, then
	// add this node.
	err := s.pool.QueryRow(ctx, `WITH up AS (
			INSERT INTO nodes (id, seen_at) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at
		), old AS (
			DELETE FROM nodes WHERE seen_at < $4 AND id <> $1
		)
		SELECT count(*) + 1 FROM nodes WHERE seen_at > $3 AND id <> $1`,
		id, now, now.Add(-min(ttl, nodeRetention)), now.Add(-nodeRetention)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("heartbeat: %w", err)
	}
	return n, nil
}

// RemoveNode forgets node id.
func (s *Store) RemoveNode(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, id); err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	return nil
}

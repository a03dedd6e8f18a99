package postgres

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat records that node id is alive at now, forgets the nodes not seen since
// now-ttl and counts the rest, in one round trip.
func (s *Store) Heartbeat(ctx context.Context, id string, now time.Time, ttl time.Duration) (int, error) {
	var n int
	// The statement's snapshot sees neither its upsert nor its delete: count the
	// other live nodes, then add this one.
	err := s.pool.QueryRow(ctx, `WITH up AS (
			INSERT INTO nodes (id, seen_at) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at
		), gone AS (
			DELETE FROM nodes WHERE seen_at <= $3 AND id <> $1
		)
		SELECT count(*) + 1 FROM nodes WHERE seen_at > $3 AND id <> $1`,
		id, now, now.Add(-ttl)).Scan(&n)
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

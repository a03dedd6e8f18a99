package hookd

import (
	"context"
	"time"
)

// NodeStore tracks the hookd nodes that share a store, so that a limit meant for an
// endpoint as a whole, its rateLimit, can be split among the nodes that deliver to it.
type NodeStore interface {
	// Heartbeat records that node id is alive at now, and returns how many nodes,
	// this one included, have sent a heartbeat after now-ttl. Nodes silent for longer
	// are forgotten.
	Heartbeat(ctx context.Context, id string, now time.Time, ttl time.Duration) (int, error)
	// RemoveNode forgets node id at once, for a node that stops: the others need not
	// wait for its heartbeats to age out.
	RemoveNode(ctx context.Context, id string) error
}

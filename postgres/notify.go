package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wake returns a channel that receives a value whenever this or another node commits
// new due work. Signals are coalesced: one pending value stands for any number of
// commits. Delivery of a signal is best effort (a notification sent while the
// listener reconnects is lost), so dispatchers also poll NextDue at a slow interval.
func (s *Store) Wake() <-chan struct{} { return s.wake }

// signal wakes the local dispatcher without waiting for the notification to come
// back from the database.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// listenerName is the application_name of the LISTEN connection.
const listenerName = "hookd-listener"

// Listener reconnect backoff.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// listen holds a dedicated connection (outside the pool, so it never starves
// queries) that LISTENs on the work channel and signals Wake for every notification.
// When the connection drops it reconnects with exponential backoff, and signals once
// after reconnecting because notifications may have been missed meanwhile.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	defer close(s.done)
	backoff := listenBackoffMin
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, cfg, !first)
		first = false
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = listenBackoffMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce connects, listens and waits for notifications until the connection
// fails or ctx ends. It returns nil if it had been listening before it failed.
func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, reconnect bool) error {
	cfg = cfg.Copy()
	// Named so that operators can tell it from the pool's connections.
	cfg.RuntimeParams["application_name"] = strings.TrimSpace(cfg.RuntimeParams["application_name"] + " " + listenerName)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	if reconnect {
		s.signal()
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return nil
		}
		s.signal()
	}
}

package server

import (
	"context"
	"sync"
	"time"
)

// Purge pacing. Each batch is one short transaction; between batches the loop pauses,
// so ingest and delivery never wait behind a purge for long, and a backlog of expired
// rows drains at up to purgeBatch rows per purgePause.
const (
	// idempotencyPurgeInterval is how often the server forgets expired idempotent
	// answers.
	idempotencyPurgeInterval = time.Minute
	// purgeInterval is how often the loop looks for expired payloads and messages
	// once it has caught up.
	purgeInterval = time.Second
	// purgeBatch is how many messages one purge batch handles.
	purgeBatch = 500
	// purgePause is the pause between two full batches.
	purgePause = 20 * time.Millisecond
	// maxBatchesPerRound bounds the batches of one round, so that the round ends
	// and the other kinds of purge get their turn.
	maxBatchesPerRound = 50
	// reclaimInterval is how often freed space is given back (SQLite's incremental
	// vacuum) and PostgreSQL's attempt partitions are dropped and made ahead.
	reclaimInterval = 10 * time.Second
)

// retention runs the purge loops until stop closes.
type retention struct {
	stop chan struct{}
	done chan struct{}
}

// startRetention starts the purge loops: one clears expired payloads, the other
// deletes rows past the metadata retention (and forgets expired idempotency keys and
// reclaims space), so that neither waits for the other.
func (s *Server) startRetention() {
	s.ret = retention{stop: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() {
		s.purgeLoop(func() {}, func() bool {
			return s.purgeRound(func(ctx context.Context) (int, error) {
				return s.store.PurgePayloads(ctx, s.now(), purgeBatch)
			}, "purge expired payloads")
		})
	})
	wg.Go(func() {
		var lastIdem, lastReclaim time.Time
		s.purgeLoop(func() {
			now := s.now()
			if now.Sub(lastIdem) >= idempotencyPurgeInterval {
				lastIdem = now
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := s.PurgeExpired(ctx); err != nil {
					s.log.Error("purge expired idempotency keys", "err", err)
				}
				cancel()
			}
			if now.Sub(lastReclaim) >= reclaimInterval {
				lastReclaim = now
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := s.store.ReclaimSpace(ctx, now.Add(-s.cfg.MetadataRetention), now); err != nil {
					s.log.Error("reclaim space", "err", err)
				}
				cancel()
			}
		}, func() bool {
			return s.purgeRound(func(ctx context.Context) (int, error) {
				return s.store.PurgeMessages(ctx, s.now().Add(-s.cfg.MetadataRetention), purgeBatch)
			}, "purge expired messages")
		})
	})
	go func() {
		wg.Wait()
		close(s.ret.done)
	}()
}

// purgeLoop runs each, then round, until stop closes: again after purgePause while
// round reports work left over, else after purgeInterval.
func (s *Server) purgeLoop(each func(), round func() bool) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.ret.stop:
			return
		case <-t.C:
		}
		each()
		next := purgeInterval
		if round() {
			next = purgePause
		}
		t.Reset(next)
	}
}

// purgeRound runs batches of purge while they come back full, up to
// maxBatchesPerRound, pausing purgePause between them. It reports whether work was
// left over.
func (s *Server) purgeRound(purge func(ctx context.Context) (int, error), what string) bool {
	for i := range maxBatchesPerRound {
		if i > 0 {
			select {
			case <-s.ret.stop:
				return false
			case <-time.After(purgePause):
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		n, err := purge(ctx)
		cancel()
		if err != nil {
			s.log.Error(what, "err", err)
			return false
		}
		if n < purgeBatch {
			return false
		}
	}
	return true
}

// stopRetention stops the purge loop and waits for it.
func (s *Server) stopRetention() {
	if s.ret.stop == nil {
		return
	}
	close(s.ret.stop)
	<-s.ret.done
	s.ret.stop = nil
}

// PurgeExpired forgets the answers to idempotent requests older than IdempotencyTTL
// (and claims of requests that never finished), so that the table does not grow
// forever. The server runs it every minute.
func (s *Server) PurgeExpired(ctx context.Context) error {
	return s.store.DeleteIdempotentResponses(ctx, s.now().Add(-s.cfg.IdempotencyTTL))
}

// Purge runs one round of the retention purge at once: expired payloads, then
// messages past the metadata retention, then space reclaim. The purge loop does the
// same continuously; Purge lets tools and tests run it on demand.
func (s *Server) Purge(ctx context.Context) error {
	for range maxBatchesPerRound {
		n, err := s.store.PurgePayloads(ctx, s.now(), purgeBatch)
		if err != nil {
			return err
		}
		if n < purgeBatch {
			break
		}
	}
	for range maxBatchesPerRound {
		n, err := s.store.PurgeMessages(ctx, s.now().Add(-s.cfg.MetadataRetention), purgeBatch)
		if err != nil {
			return err
		}
		if n < purgeBatch {
			break
		}
	}
	now := s.now()
	return s.store.ReclaimSpace(ctx, now.Add(-s.cfg.MetadataRetention), now)
}

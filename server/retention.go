package server

import (
	"context"
	"time"
)

// purgeInterval is how often the server forgets expired idempotent answers.
const purgeInterval = 10 * time.Minute

// retention runs PurgeExpired at start and then every purgeInterval until stop closes.
type retention struct {
	stop chan struct{}
	done chan struct{}
}

// startRetention starts the purge loop.
func (s *Server) startRetention() {
	s.ret = retention{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.ret.done)
		t := time.NewTicker(purgeInterval)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.PurgeExpired(ctx); err != nil {
				s.log.Error("purge expired idempotency keys", "err", err)
			}
			cancel()
			select {
			case <-s.ret.stop:
				return
			case <-t.C:
			}
		}
	}()
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
// forever. The server runs it every ten minutes.
func (s *Server) PurgeExpired(ctx context.Context) error {
	return s.store.DeleteIdempotentResponses(ctx, s.now().Add(-s.cfg.IdempotencyTTL))
}

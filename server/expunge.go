package server

import (
	"context"
	"time"
)

// reclaimer runs the store's ReclaimExpunged in the background after content was
// erased by a request that answered at once (deleting one message's or attempt's
// content, bulk-expunge): requests made while one runs are served by one more run.
type reclaimer struct {
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// startReclaimer starts the loop; the API's ExpungedFunc kicks it.
func (s *Server) startReclaimer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.reclaim.cancel = cancel
	s.reclaim.done = make(chan struct{})
	go func() {
		defer close(s.reclaim.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.reclaim.kick:
			}
			rctx, stop := context.WithTimeout(ctx, 10*time.Minute)
			if err := s.store.ReclaimExpunged(rctx, false); err != nil && ctx.Err() == nil {
				s.log.Error("reclaim the space of expunged content", "err", err)
			}
			stop()
		}
	}()
}

// expunged asks the reclaimer for a run.
func (s *Server) expunged() {
	select {
	case s.reclaim.kick <- struct{}{}:
	default:
	}
}

// stopReclaimer stops the loop, ending a run in progress.
func (s *Server) stopReclaimer() {
	if s.reclaim.cancel == nil {
		return
	}
	s.reclaim.cancel()
	<-s.reclaim.done
	s.reclaim.cancel = nil
}

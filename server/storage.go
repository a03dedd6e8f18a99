package server

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

// storageCheck is how often the server looks whether the store reports a full disk.
const storageCheck = 2 * time.Second

// startStorageWatch logs, once and loudly, when the store's disk becomes full (its
// writes fail: new messages are refused with 507, deliveries stop and /readyz fails)
// and, once, when it is writable again.
func (s *Server) startStorageWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopStorage = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		t := time.NewTicker(storageCheck)
		defer t.Stop()
		full := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			err := s.store.Ping(pctx)
			pcancel()
			now := hookd.ErrorCode(err) == hookd.ESTORAGEFULL
			switch {
			case now && !full:
				s.log.Error("DISK FULL: the database cannot be written; new messages are refused with 507 storage_full, deliveries are stopped and /readyz fails until space is freed", "db", s.storeName(), "err", err)
			case !now && full:
				s.log.Info("disk space is back: the database is writable again", "db", s.storeName())
			}
			full = now
		}
	}()
}

// storeName names the store in logs without a PostgreSQL URL's credentials.
func (s *Server) storeName() string {
	if s.cfg.IsPostgres() {
		return "postgres"
	}
	return s.cfg.DB
}

package task

import (
	"context"
	"time"

	"github.com/hookd/hookd"
)

// purgeContent erases the contents of the messages of the task's application (or of
// every application, or those of AppIDs) accepted in the window and of the event
// types asked for, page by page in ID order, then reclaims the space they took. A
// page redone after a crash is erased again, which changes nothing.
func (w *run) purgeContent(ctx context.Context) error {
	st := w.r.cfg.Store
	f := hookd.MessageSearch{AppID: w.t.AppID, EventTypes: w.p.EventTypes, Before: w.until()}
	if !w.p.Since.IsZero() {
		f.After = w.p.Since
	}
	apps := map[string]bool{}
	for _, id := range w.p.AppIDs {
		apps[id] = true
	}
	for {
		ms, err := st.SearchMessages(ctx, f, hookd.Page{Limit: pageSize, Iterator: w.t.Cursor, Ascending: true})
		if err != nil {
			return err
		}
		byApp := map[string][]string{}
		var order []string
		for _, m := range ms {
			if len(apps) > 0 && !apps[m.AppID] {
				continue
			}
			if byApp[m.AppID] == nil {
				order = append(order, m.AppID)
			}
			byApp[m.AppID] = append(byApp[m.AppID], m.ID)
		}
		for _, app := range order {
			found, err := st.ExpungeMessageContents(ctx, app, byApp[app])
			if err != nil {
				return err
			}
			w.prog.MessagesPurged += len(found)
		}
		w.prog.Processed += len(ms)
		if len(ms) == 0 {
			break
		}
		if err := w.next(ctx, ms[len(ms)-1].ID); err != nil {
			return err
		}
		if len(ms) < pageSize {
			break
		}
	}
	// The reclaim may outlast a lease on a large PostgreSQL table: hold the task
	// meanwhile.
	stop := w.holdLease(ctx)
	defer stop()
	return st.ReclaimExpunged(ctx, w.p.Compact)
}

// holdLease renews the task's lease until the returned function is called.
func (w *run) holdLease(ctx context.Context) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(w.r.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				_ = w.r.save(ctx, w, w.r.cfg.Lease)
			}
		}
	}()
	return func() { close(done); <-finished }
}

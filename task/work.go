package task

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// work does what the task asks, from its cursor on, saving progress after each page.
func (w *run) work(ctx context.Context) error {
	switch w.t.Kind {
	case hookd.TaskAppStats:
		return w.appStats(ctx)
	case hookd.TaskEventTypeAggregate:
		return w.eventTypeAggregate(ctx)
	case hookd.TaskPurgeContent:
		return w.purgeContent(ctx)
	}
	if _, err := w.r.cfg.Store.Endpoint(ctx, w.t.AppID, w.t.EndpointID); err != nil {
		return err
	}
	switch w.t.Kind {
	case hookd.TaskRecover:
		return w.recover(ctx)
	case hookd.TaskReplay:
		return w.replayMissing(ctx)
	case hookd.TaskBulkReplay:
		if w.p.StatusCodeClass != nil {
			return w.bulkReplayByAttempts(ctx)
		}
		return w.bulkReplay(ctx)
	}
	return hookd.Errorf(hookd.EINVALID, "unknown task kind %q", w.t.Kind)
}

func (w *run) until() time.Time {
	if w.p.Until == nil {
		return time.Time{}
	}
	return *w.p.Until
}

// recover makes the endpoint's failed deliveries in the window due again: one
// statement, run again from the start if interrupted (a delivery recovered already
// is pending, no longer failed, so it is not counted twice).
func (w *run) recover(ctx context.Context) error {
	n, err := w.r.cfg.Store.RecoverDeliveries(ctx, w.t.AppID, w.t.EndpointID, w.p.Since, w.until(), w.r.cfg.Now().UTC())
	if err != nil {
		return err
	}
	w.prog.Processed += n
	w.prog.MessagesSent += n
	return nil
}

// replayMissing creates a delivery to the endpoint for every message of the window it
// matches and never got.
func (w *run) replayMissing(ctx context.Context) error {
	st := w.r.cfg.Store
	filter := hookd.MessageFilter{After: w.p.Since.Add(-time.Nanosecond), Before: w.until()}
	for {
		e, err := st.Endpoint(ctx, w.t.AppID, w.t.EndpointID)
		if err != nil {
			return err
		}
		msgs, err := st.Messages(ctx, w.t.AppID, filter, hookd.Page{Limit: pageSize, Iterator: w.t.Cursor, Ascending: true})
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		// No hand-off to the local dispatcher: CreateDeliveries skips the messages the
		// endpoint has already, and a delivery taken before the write would be sent
		// whether stored or not.
		now := w.r.cfg.Now().UTC()
		var ds []*hookd.Delivery
		for _, m := range msgs {
			ds = append(ds, hookd.FanOut(m, []*hookd.Endpoint{e}, now, hookd.TriggerManual, w.r.cfg.IDs)...)
		}
		if len(ds) > 0 {
			n, err := st.CreateDeliveries(ctx, ds)
			if err != nil {
				return err
			}
			w.prog.MessagesSent += n
		}
		w.prog.Processed += len(msgs)
		if err := w.next(ctx, msgs[len(msgs)-1].ID); err != nil {
			return err
		}
		if len(msgs) < pageSize {
			return nil
		}
	}
}

// next saves the cursor after a page.
func (w *run) next(ctx context.Context, cursor string) error {
	w.t.Cursor = cursor
	return w.r.save(ctx, w, w.r.cfg.Lease)
}

// bulkReplay resends to the endpoint every message of the window that was sent to
// it, narrowed by the filters.
func (w *run) bulkReplay(ctx context.Context) error {
	st := w.r.cfg.Store
	filter := hookd.DeliveryFilter{
		Status: w.p.Status, EventTypes: w.p.EventTypes, Channel: w.p.Channel, Tag: w.p.Tag,
		After: w.p.Since.Add(-time.Nanosecond), Before: w.until(),
	}
	for {
		ds, err := st.EndpointDeliveries(ctx, w.t.AppID, w.t.EndpointID, filter, hookd.Page{Limit: pageSize, Iterator: w.t.Cursor, Ascending: true})
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return nil
		}
		msgIDs := make([]string, len(ds))
		for i, d := range ds {
			msgIDs[i] = d.MsgID
		}
		if err := w.resend(ctx, msgIDs); err != nil {
			return err
		}
		w.prog.Processed += len(ds)
		if err := w.next(ctx, ds[len(ds)-1].MsgID); err != nil {
			return err
		}
		if len(ds) < pageSize {
			return nil
		}
	}
}

// bulkReplayByAttempts is a bulk replay narrowed by the status code class of the
// attempts: it walks the endpoint's attempts of the window in that class and resends
// their messages (a message with several such attempts on different pages may be
// resent more than once).
func (w *run) bulkReplayByAttempts(ctx context.Context) error {
	st := w.r.cfg.Store
	filter := hookd.AttemptFilter{
		Status: w.p.Status, EventTypes: w.p.EventTypes, Channel: w.p.Channel,
		After: w.p.Since.Add(-time.Nanosecond), Before: w.until(),
	}
	if *w.p.StatusCodeClass == 0 {
		filter.NoResponse = true
	} else {
		filter.StatusCodeClass = *w.p.StatusCodeClass
	}
	for {
		as, err := st.AttemptsByEndpoint(ctx, w.t.AppID, w.t.EndpointID, filter, hookd.Page{Limit: pageSize, Iterator: w.t.Cursor, Ascending: true})
		if err != nil {
			return err
		}
		if len(as) == 0 {
			return nil
		}
		seen := make(map[string]bool, len(as))
		var msgIDs []string
		for _, a := range as {
			if !seen[a.MsgID] {
				seen[a.MsgID] = true
				msgIDs = append(msgIDs, a.MsgID)
			}
		}
		if err := w.resend(ctx, msgIDs); err != nil {
			return err
		}
		w.prog.Processed += len(msgIDs)
		if err := w.next(ctx, as[len(as)-1].ID); err != nil {
			return err
		}
		if len(as) < pageSize {
			return nil
		}
	}
}

// resend makes the deliveries of msgIDs to the endpoint due now, a few at a time. A
// message deleted meanwhile is skipped.
func (w *run) resend(ctx context.Context, msgIDs []string) error {
	now := w.r.cfg.Now().UTC()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, resendConcurrency)
	for _, id := range msgIDs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := w.r.cfg.Store.ResendDelivery(ctx, w.r.cfg.IDs.New(hookd.PrefixDelivery), w.t.AppID, id, w.t.EndpointID, now)
			skip := hookd.IsNotFound(err) && !endpointGone(ctx, w)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				w.prog.MessagesSent++
			case skip:
			case first == nil:
				first = err
			}
		}()
	}
	wg.Wait()
	return first
}

// endpointGone reports whether the task's endpoint no longer exists.
func endpointGone(ctx context.Context, w *run) bool {
	_, err := w.r.cfg.Store.Endpoint(ctx, w.t.AppID, w.t.EndpointID)
	return hookd.IsNotFound(err)
}

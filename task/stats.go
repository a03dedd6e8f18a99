package task

import (
	"context"
	"slices"

	"github.com/hookd/hookd"
)

// apps calls fn for each application the task covers, after its cursor, in ID order
// (the operational application left out), saving the cursor after each page.
func (w *run) apps(ctx context.Context, fn func(*hookd.Application) error) error {
	st := w.r.cfg.Store
	if len(w.p.AppIDs) > 0 {
		ids := slices.Sorted(slices.Values(w.p.AppIDs))
		for _, id := range ids {
			if id <= w.t.Cursor {
				continue
			}
			a, err := st.App(ctx, id)
			if hookd.IsNotFound(err) {
				continue // deleted since the request
			}
			if err != nil {
				return err
			}
			if err := fn(a); err != nil {
				return err
			}
			w.t.Cursor = id
		}
		return w.r.save(ctx, w, w.r.cfg.Lease)
	}
	for {
		as, err := st.Apps(ctx, hookd.Page{Limit: pageSize, Iterator: w.t.Cursor, Ascending: true})
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.UID == hookd.OperationalAppUID {
				continue
			}
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(as) == 0 {
			return nil
		}
		if err := w.next(ctx, as[len(as)-1].ID); err != nil {
			return err
		}
		if len(as) < pageSize {
			return nil
		}
	}
}

// appStats counts each application's message destinations (deliveries) of the
// messages accepted in the window, from the messages' ID range.
func (w *run) appStats(ctx context.Context) error {
	from := hookd.IDAt(hookd.PrefixMessage, w.p.Since)
	to := hookd.IDAt(hookd.PrefixMessage, w.until())
	return w.apps(ctx, func(a *hookd.Application) error {
		n, err := w.r.cfg.Store.MessageDestinations(ctx, a.ID, from, to)
		if err != nil {
			return err
		}
		st := AppStat{AppID: a.ID, MessageDestinations: n}
		if a.UID != "" {
			st.AppUID = &a.UID
		}
		// A page redone after a crash replaces what it counted before.
		w.prog.AppStats = append(slices.DeleteFunc(w.prog.AppStats, func(s AppStat) bool { return s.AppID == a.ID }), st)
		w.prog.Processed++
		return nil
	})
}

// eventTypeAggregate lists, per application, the event types its endpoints filter on
// and whether one of them takes every event type.
func (w *run) eventTypeAggregate(ctx context.Context) error {
	return w.apps(ctx, func(a *hookd.Application) error {
		eps, err := w.r.cfg.Store.AllEndpoints(ctx, a.ID)
		if err != nil {
			return err
		}
		out := AppEventTypes{AppID: a.ID, ExplicitlySubscribedEventTypes: []string{}}
		for _, e := range eps {
			if len(e.FilterTypes) == 0 {
				out.HasCatchAllEndpoint = true
			}
			for _, et := range e.FilterTypes {
				if !slices.Contains(out.ExplicitlySubscribedEventTypes, et) {
					out.ExplicitlySubscribedEventTypes = append(out.ExplicitlySubscribedEventTypes, et)
				}
			}
		}
		slices.Sort(out.ExplicitlySubscribedEventTypes)
		w.prog.EventTypes = append(slices.DeleteFunc(w.prog.EventTypes, func(e AppEventTypes) bool { return e.AppID == a.ID }), out)
		w.prog.Processed++
		return nil
	})
}

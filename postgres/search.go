package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

var _ hookd.SearchStore = (*Store)(nil)

// SearchMessages lists the messages that match f, driven by the most selective index
// (see hookd.SearchStore): the driving table comes first and the page is ordered by
// its message ID column, which the planner reads in index order.
func (s *Store) SearchMessages(ctx context.Context, f hookd.MessageSearch, page hookd.Page) ([]*hookd.Message, error) {
	var (
		w    where
		from string
		col  = "m.id"
		// lead, when set, is the driving index's leading column, fixed to one value
		// by a range rather than by equality: the ORDER BY then names it, so that only
		// that index gives the order and the planner cannot choose another one read in
		// ID order with a filter, which may read far on data it has no statistics for
		// (the newest rows all failing another way, say). Not with an upper time
		// bound: the index can then seek to it only after an equality on its leading
		// column, and the window bounds the read anyway.
		lead string
	)
	lo, hi := hookd.SearchIDRange(hookd.PrefixMessage, f.After, f.Before)
	// fixed fixes col to v, by a range (setting lead) or, with an upper bound, by
	// equality.
	fixed := func(col string, v any) {
		if hi != "" {
			w.add(col+" = ?", v)
			return
		}
		w.add(col+" >= ? AND "+col+" <= ?", v, v)
		lead = col
	}
	tagDone, chDone, statusDone := false, false, false
	switch {
	case f.EventID != "":
		from = `messages m`
	case f.Tag != "":
		from, col = `message_tags x JOIN messages m ON m.id = x.msg_id`, "x.msg_id"
		w.add("x.tag = ?", f.Tag)
		tagDone = true
		if f.AppID != "" {
			w.add("x.app_id = ?", f.AppID)
		}
	case len(f.EventTypes) == 1:
		// Driven by the event type's index (below), as on SQLite: before channel and
		// status, which are checked on its rows.
		from = `messages m`
	case f.Channel != "":
		from, col = `message_channels x JOIN messages m ON m.id = x.msg_id`, "x.msg_id"
		w.add("x.channel = ?", f.Channel)
		chDone = true
		if f.AppID != "" {
			w.add("x.app_id = ?", f.AppID)
		}
	case f.Status != nil:
		from, col = `deliveries d JOIN messages m ON m.id = d.msg_id`, "d.msg_id"
		fixed("d.status", int16(*f.Status))
		w.add(`NOT EXISTS (SELECT 1 FROM deliveries d2
			WHERE d2.status = d.status AND d2.msg_id = d.msg_id AND d2.endpoint_id < d.endpoint_id)`)
		statusDone = true
		if f.AppID != "" {
			w.add("d.app_id = ?", f.AppID)
		}
	default:
		from = `messages m`
	}
	if f.EventID != "" {
		w.add("m.event_id = ?", f.EventID)
	}
	if f.AppID != "" {
		w.add("m.app_id = ?", f.AppID)
	}
	switch len(f.EventTypes) {
	case 0:
	case 1:
		if from == `messages m` && f.EventID == "" {
			fixed("m.event_type", f.EventTypes[0])
			break
		}
		w.add("m.event_type = ?", f.EventTypes[0])
	default:
		w.add("m.event_type = ANY(?)", f.EventTypes)
	}
	// The other filters are checked on each row the driving index gives, as scalar
	// subqueries (which the planner runs per row, never as a join over the whole
	// table).
	if f.Tag != "" && !tagDone {
		w.add("(SELECT 1 FROM message_tags t WHERE t.tag = ? AND t.msg_id = m.id) IS NOT NULL", f.Tag)
	}
	if f.Channel != "" && !chDone {
		w.add("(SELECT 1 FROM message_channels t WHERE t.channel = ? AND t.msg_id = m.id) IS NOT NULL", f.Channel)
	}
	if f.Status != nil && !statusDone {
		w.add("(SELECT 1 FROM deliveries s WHERE s.msg_id = m.id AND s.status = ? LIMIT 1) IS NOT NULL", int16(*f.Status))
	}
	if lo != "" {
		w.add(col+" >= ? AND m.timestamp > ?", lo, f.After)
	}
	if hi != "" {
		w.add(col+" < ? AND m.timestamp < ?", hi, f.Before)
	}
	order := w.pageLed(lead, col, page)
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM `+from+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("search messages: %w", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("search messages: %w", err)
	}
	return ms, nil
}

// SearchAttempts lists the attempts that match f by ID.
func (s *Store) SearchAttempts(ctx context.Context, f hookd.AttemptSearch, page hookd.Page) ([]*hookd.Attempt, error) {
	var w where
	lead := "" // see SearchMessages
	lo, hi := hookd.SearchIDRange(hookd.PrefixAttempt, f.After, f.Before)
	switch {
	case f.StatusCode != nil && hi == "":
		w.add("a.response_status_code >= ? AND a.response_status_code <= ?", *f.StatusCode, *f.StatusCode)
		lead = "a.response_status_code"
	case f.StatusCode != nil:
		w.add("a.response_status_code = ?", *f.StatusCode)
	}
	if f.EndpointID != "" {
		w.add("a.endpoint_id = ?", f.EndpointID)
	}
	if f.AppID != "" {
		w.add("a.app_id = ?", f.AppID)
	}
	if f.Status != nil {
		w.add("a.status = ?", int16(*f.Status))
	}
	if lo != "" {
		w.add("a.id >= ? AND a.timestamp > ?", lo, f.After)
	}
	if hi != "" {
		w.add("a.id < ? AND a.timestamp < ?", hi, f.Before)
	}
	order := w.pageLed(lead, "a.id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+attemptColumns+` FROM attempts a`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("search attempts: %w", err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Attempt, error) { return scanAttempt(r) })
	if err != nil {
		return nil, fmt.Errorf("search attempts: %w", err)
	}
	return as, nil
}

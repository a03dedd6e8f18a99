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
	)
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
	case f.Channel != "":
		from, col = `message_channels x JOIN messages m ON m.id = x.msg_id`, "x.msg_id"
		w.add("x.channel = ?", f.Channel)
		chDone = true
		if f.AppID != "" {
			w.add("x.app_id = ?", f.AppID)
		}
	case f.Status != nil && *f.Status == hookd.StatusFail:
		from, col = `deliveries d JOIN messages m ON m.id = d.msg_id`, "d.msg_id"
		w.add(`d.status = 2 AND NOT EXISTS (SELECT 1 FROM deliveries d2
			WHERE d2.msg_id = d.msg_id AND d2.status = 2 AND d2.endpoint_id < d.endpoint_id)`)
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
		w.add("m.event_type = ?", f.EventTypes[0])
	default:
		w.add("m.event_type = ANY(?)", f.EventTypes)
	}
	if f.Tag != "" && !tagDone {
		w.add("EXISTS (SELECT 1 FROM message_tags t WHERE t.tag = ? AND t.msg_id = m.id)", f.Tag)
	}
	if f.Channel != "" && !chDone {
		w.add("EXISTS (SELECT 1 FROM message_channels t WHERE t.channel = ? AND t.msg_id = m.id)", f.Channel)
	}
	if f.Status != nil && !statusDone {
		w.add("EXISTS (SELECT 1 FROM deliveries s WHERE s.msg_id = m.id AND s.status = ?)", int16(*f.Status))
	}
	lo, hi := hookd.SearchIDRange(hookd.PrefixMessage, f.After, f.Before)
	if lo != "" {
		w.add(col+" >= ? AND m.timestamp > ?", lo, f.After)
	}
	if hi != "" {
		w.add(col+" < ? AND m.timestamp < ?", hi, f.Before)
	}
	order := w.page(col, page)
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
	if f.StatusCode != nil {
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
	lo, hi := hookd.SearchIDRange(hookd.PrefixAttempt, f.After, f.Before)
	if lo != "" {
		w.add("a.id >= ? AND a.timestamp > ?", lo, f.After)
	}
	if hi != "" {
		w.add("a.id < ? AND a.timestamp < ?", hi, f.Before)
	}
	order := w.page("a.id", page)
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

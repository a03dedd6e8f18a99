package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/hookd/hookd"
)

var _ hookd.SearchStore = (*Store)(nil)

// conds collects the conditions of a search and their arguments.
type conds struct {
	parts []string
	args  []any
}

func (c *conds) add(cond string, args ...any) {
	c.parts = append(c.parts, cond)
	c.args = append(c.args, args...)
}

// SearchMessages lists the messages that match f, driven by the most selective index
// (see hookd.SearchStore). The driving table and index are named, and CROSS JOIN
// keeps SQLite from reordering the join, so the plan never depends on statistics.
func (s *Store) SearchMessages(ctx context.Context, f hookd.MessageSearch, page hookd.Page) ([]*hookd.Message, error) {
	var (
		from string // FROM clause
		col  string // the message ID column the driving index is ordered by
		c    conds
	)
	tagDone, chDone, statusDone, typeDone, appDone := false, false, false, false, false
	switch {
	case f.EventID != "":
		from, col = `messages m INDEXED BY messages_by_event_id`, "m.id"
		c.add("m.event_id = ?", f.EventID)
	case f.Tag != "":
		from, col = `message_tags x CROSS JOIN messages m ON m.id = x.msg_id`, "x.msg_id"
		c.add("x.tag = ?", f.Tag)
		tagDone = true
		if f.AppID != "" {
			c.add("x.app_id = ?", f.AppID)
		}
	case len(f.EventTypes) == 1:
		from, col = `messages m INDEXED BY messages_event_type`, "m.id"
		c.add("m.event_type = ?", f.EventTypes[0])
		typeDone = true
	case f.Channel != "":
		from, col = `message_channels x CROSS JOIN messages m ON m.id = x.msg_id`, "x.msg_id"
		c.add("x.channel = ?", f.Channel)
		chDone = true
		if f.AppID != "" {
			c.add("x.app_id = ?", f.AppID)
		}
	case f.Status != nil:
		from, col = `deliveries d INDEXED BY deliveries_status_msg CROSS JOIN messages m ON m.id = d.msg_id`, "d.msg_id"
		c.add(`d.status = ? AND NOT EXISTS (SELECT 1 FROM deliveries d2 INDEXED BY deliveries_status_msg
			WHERE d2.status = d.status AND d2.msg_id = d.msg_id AND d2.endpoint_id < d.endpoint_id)`, int(*f.Status))
		statusDone = true
		if f.AppID != "" {
			c.add("d.app_id = ?", f.AppID)
		}
	case f.AppID != "":
		from, col = `messages m INDEXED BY messages_app`, "m.id"
		c.add("m.app_id = ?", f.AppID)
		appDone = true
	default:
		from, col = `messages m`, "m.id"
	}
	if f.AppID != "" && !appDone {
		c.add("m.app_id = ?", f.AppID)
	}
	if len(f.EventTypes) > 0 && !typeDone {
		in, args := inList(f.EventTypes, nil)
		c.add("m.event_type IN "+in, args...)
	}
	if f.EventID != "" && col != "m.id" {
		c.add("m.event_id = ?", f.EventID)
	}
	if f.Tag != "" && !tagDone {
		c.add("EXISTS (SELECT 1 FROM message_tags t WHERE t.tag = ? AND t.msg_id = m.id)", f.Tag)
	}
	if f.Channel != "" && !chDone {
		c.add("EXISTS (SELECT 1 FROM message_channels t WHERE t.channel = ? AND t.msg_id = m.id)", f.Channel)
	}
	if f.Status != nil && !statusDone {
		c.add("EXISTS (SELECT 1 FROM deliveries s INDEXED BY deliveries_status_msg WHERE s.status = ? AND s.msg_id = m.id)", int(*f.Status))
	}
	lo, hi := hookd.SearchIDRange(hookd.PrefixMessage, f.After, f.Before)
	if lo != "" {
		c.add(col+" >= ?", lo)
		c.add("m.timestamp > ?", ts(f.After))
	}
	if hi != "" {
		c.add(col+" < ?", hi)
		c.add("m.timestamp < ?", ts(f.Before))
	}
	q := `SELECT ` + messageColumnsM + ` FROM ` + from
	cond, tail, args := pageSQL(col, page, c.args)
	if len(c.parts) > 0 || cond != "" {
		q += " WHERE 1" + prefixAnd(c.parts)
	}
	out, err := list(ctx, s, q+cond+tail, args, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("search messages: %w", err)
	}
	return out, nil
}

// SearchAttempts lists the attempts that match f, driven by the index of its status
// code, its endpoint or its ID.
func (s *Store) SearchAttempts(ctx context.Context, f hookd.AttemptSearch, page hookd.Page) ([]*hookd.Attempt, error) {
	var c conds
	from := `attempts a INDEXED BY attempts_id`
	switch {
	case f.StatusCode != nil:
		from = `attempts a INDEXED BY attempts_status_code`
		c.add("a.response_status_code = ?", *f.StatusCode)
	case f.EndpointID != "":
		from = `attempts a INDEXED BY attempts_endpoint`
	}
	if f.EndpointID != "" {
		c.add("a.endpoint_id = ?", f.EndpointID)
	}
	if f.AppID != "" {
		c.add("a.app_id = ?", f.AppID)
	}
	if f.Status != nil {
		c.add("a.status = ?", int(*f.Status))
	}
	lo, hi := hookd.SearchIDRange(hookd.PrefixAttempt, f.After, f.Before)
	if lo != "" {
		c.add("a.id >= ? AND a.timestamp > ?", lo, ts(f.After))
	}
	if hi != "" {
		c.add("a.id < ? AND a.timestamp < ?", hi, ts(f.Before))
	}
	cond, tail, args := pageSQL("a.id", page, c.args)
	q := `SELECT ` + attemptColumnsA + ` FROM ` + from + ` WHERE 1` + prefixAnd(c.parts) + cond + tail
	out, err := list(ctx, s, q, args, scanAttempt)
	if err != nil {
		return nil, fmt.Errorf("search attempts: %w", err)
	}
	return out, nil
}

func prefixAnd(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return " AND " + strings.Join(parts, " AND ")
}

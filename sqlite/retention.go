package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd"
)

// postponeBy is how long after its delivery's next attempt a message whose payload
// is due for purging but still needed is looked at again.
const postponeBy = time.Minute

// PurgePayloads empties the payloads of up to limit messages past their
// PayloadExpiresAt, and the response bodies and headers of their attempts; messages
// with a delivery still pending or sending are postponed instead.
func (s *Store) PurgePayloads(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n = 0
		// Whether a message has a delivery still due is found in the covering
		// (status, msg_id, …) index, without reading its deliveries' rows; only for
		// those that have one is the latest next attempt read (FILTER, not a
		// condition on status, so that the deliveries are reached through their
		// message ID rather than by walking the due index).
		rows, err := tx.query(`SELECT m.id, CASE WHEN EXISTS (SELECT 1 FROM deliveries d
					WHERE d.status IN `+dueStatuses+` AND d.msg_id = m.id)
				THEN (SELECT max(d.next_attempt) FILTER (WHERE d.status IN `+dueStatuses+`)
					FROM deliveries d WHERE d.msg_id = m.id) END
			FROM messages m WHERE m.payload_expires_at IS NOT NULL AND m.payload_expires_at <= ?
			ORDER BY m.payload_expires_at LIMIT ?`, ts(now), limit)
		if err != nil {
			return false, err
		}
		var clear, keep []string
		var until int64
		for rows.Next() {
			var id string
			var due sql.NullInt64
			if err := rows.Scan(&id, &due); err != nil {
				rows.Close()
				return false, err
			}
			if due.Valid {
				keep = append(keep, id)
				until = max(until, due.Int64)
			} else {
				clear = append(clear, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		n = len(clear) + len(keep)
		if len(keep) > 0 {
			until = max(until, ts(now)) + postponeBy.Microseconds()
			if _, err := tx.exec(`UPDATE messages SET payload_expires_at = ?
				WHERE id IN (SELECT value FROM json_each(?))`, until, jsonList(keep)); err != nil {
				return false, err
			}
		}
		if len(clear) > 0 {
			list := jsonList(clear)
			if _, err := tx.exec(`UPDATE messages SET payload = '', payload_expires_at = NULL
				WHERE id IN (SELECT value FROM json_each(?))`, list); err != nil {
				return false, err
			}
			if _, err := tx.exec(`UPDATE attempts SET response = '', headers = ''
				WHERE msg_id IN (SELECT value FROM json_each(?)) AND (response <> '' OR headers <> '')`, list); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil {
		return 0, wrap("purge payloads", err)
	}
	return n, nil
}

// PurgeMessages deletes up to limit messages accepted before before, with their
// deliveries, attempts, tags and channels, keeping those with a delivery still due.
func (s *Store) PurgeMessages(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n = 0
		rows, err := tx.query(`SELECT m.id FROM messages m WHERE m.id < ? AND NOT EXISTS (
				SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.status IN `+dueStatuses+`)
			ORDER BY m.id LIMIT ?`, hookd.IDAt(hookd.PrefixMessage, before), limit)
		if err != nil {
			return false, err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return false, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		if len(ids) == 0 {
			return false, nil
		}
		if err := deleteMessages(tx, jsonList(ids)); err != nil {
			return false, err
		}
		n = len(ids)
		return false, nil
	})
	if err != nil {
		return 0, wrap("purge messages", err)
	}
	return n, nil
}

// deleteMessages deletes the messages whose IDs are in the JSON list, with the rows
// that belong to them: nothing references messages by foreign key (an ON DELETE
// CASCADE ran a sub-program per message), so each table's rows go in one statement.
func deleteMessages(tx *wtx, list string) error {
	for _, q := range []string{
		`DELETE FROM attempts WHERE msg_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM deliveries WHERE msg_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM message_tags WHERE msg_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM message_channels WHERE msg_id IN (SELECT value FROM json_each(?))`,
		`DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`,
	} {
		if _, err := tx.exec(q, list); err != nil {
			return err
		}
	}
	return nil
}

// vacuumPages is how many free pages one ReclaimSpace gives back at most, and
// keepFreePages how many it leaves for the next inserts to reuse.
const (
	vacuumPages   = 2048
	keepFreePages = 1024
)

// ReclaimSpace returns free pages beyond keepFreePages to the file system, up to
// vacuumPages at a time (PRAGMA incremental_vacuum; Open turns auto_vacuum to
// incremental). The pages purges free are reused by later inserts anyway; this keeps
// the file from holding on to a peak's worth of them.
func (s *Store) ReclaimSpace(ctx context.Context, before, now time.Time) error {
	if s.path == ":memory:" {
		return nil
	}
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var free int64
		if err := tx.queryRow(`PRAGMA freelist_count`).Scan(&free); err != nil {
			return false, err
		}
		if free <= keepFreePages {
			return false, nil
		}
		_, err := tx.exec(fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, min(free-keepFreePages, vacuumPages)))
		return false, err
	})
	return wrap("reclaim space", err)
}

func jsonList(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd"
)

// postponeBy is how long after its delivery's next attempt a message whose payload
// is due for purging but still needed is looked at again.
const postponeBy = time.Minute

// retentionLock takes, for the transaction, the advisory lock that lets one node at a
// time purge this schema's tables; false means another node holds it.
func retentionLock(ctx context.Context, tx pgx.Tx, kind string) (bool, error) {
	var ok bool
	// One lock per kind of purge: the payload and row purges run side by side.
	err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('hookd retention ' || $1 || ' ' || current_schema()))`, kind).Scan(&ok)
	if err != nil || !ok {
		return false, err
	}
	// The purge's statements are short; estimates on tables that grow fast can be
	// large enough to start JIT compiling, which would cost more than the batch.
	// They reach a batch's rows through an index, one message at a time (a nested
	// loop): on partitions without statistics (autovacuum off, or not yet analysed)
	// the planner took a batch's 500 attempts for most of the log, and hashed all of
	// it (0.4–1.2 s a batch, measured, with the attempt log locked throughout).
	if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true), `+nestedLoopsOnly); err != nil {
		return false, err
	}
	return true, nil
}

// PurgePayloads empties the payloads of up to limit messages past their
// PayloadExpiresAt and the response bodies and headers of their attempts; messages
// with a delivery still pending or sending are postponed instead. It does nothing
// (and returns 0) while another node purges.
//
// The purge walks messages_payload_expiry in (payload_expires_at, id) order from a
// cursor (payload_purge_cursor) and leaves payload_expires_at as it is: an UPDATE that
// changes no indexed column, into the page space the partitions' fillfactor keeps, is
// a HOT update (a new row version in the same page and no index entry), where
// clearing the expiry too wrote a new version elsewhere and an entry in each of the
// table's indexes. A message accepted with an expiry the cursor has passed (a
// transaction open for longer than the retention, or a node's clock behind by more)
// keeps its payload until its row goes at the metadata retention.
func (s *Store) PurgePayloads(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if ok, err := retentionLock(ctx, tx, "payloads"); err != nil || !ok {
			return err
		}
		var after time.Time
		var afterID string
		if err := tx.QueryRow(ctx, `SELECT expires_at, msg_id FROM payload_purge_cursor`).Scan(&after, &afterID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, payload_expires_at FROM messages
			WHERE payload_expires_at >= $1 AND (payload_expires_at > $1 OR id > $2) AND payload_expires_at <= $3
			ORDER BY payload_expires_at, id LIMIT $4`, after, afterID, now, limit)
		if err != nil {
			return err
		}
		type candidate struct {
			id      string
			expires time.Time
		}
		var next []candidate
		for rows.Next() {
			var c candidate
			if err := rows.Scan(&c.id, &c.expires); err != nil {
				rows.Close()
				return err
			}
			next = append(next, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(next) == 0 {
			return err
		}
		ids := make([]string, len(next))
		for i, c := range next {
			ids[i] = c.id
		}
		// The row locks order the purge against a resend (which locks the message
		// FOR SHARE): a message being resent is skipped, and a resend after the
		// purge finds the payload gone. The deliveries are read by a statement of its
		// own, after the locks, so that it sees what a resend that held one committed.
		rows, err = tx.Query(ctx, `SELECT id FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED`, ids)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		// FILTER, not a condition on status: the planner must reach the deliveries
		// through their message ID. Given the status it may turn max() into a walk of
		// the due index, milliseconds a message on a queue of any size.
		rows, err = tx.Query(ctx, `SELECT m.id, (SELECT max(d.next_attempt) FILTER (WHERE d.status IN ($2, $3))
				FROM deliveries d WHERE d.msg_id = m.id)
			FROM unnest($1::text[]) AS m(id)`, locked, hookd.StatusPending, hookd.StatusSending)
		if err != nil {
			return err
		}
		due := make(map[string]*time.Time, len(locked))
		for rows.Next() {
			var id string
			var at *time.Time
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return err
			}
			due[id] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The cursor moves past what was looked at, up to the first message skipped
		// for its lock (the next batch takes it again).
		var clear, keep []string
		var until time.Time
		cursor := candidate{afterID, after}
		for _, c := range next {
			at, ok := due[c.id]
			if !ok {
				break // locked by another transaction, or deleted
			}
			cursor = c
			if at != nil {
				keep = append(keep, c.id)
				until = later(until, *at)
			} else {
				clear = append(clear, c.id)
			}
		}
		// A batch cut short by a lock counts as short (under limit), so that the round
		// ends.
		n = len(clear) + len(keep)
		b := &pgx.Batch{}
		b.Queue(`UPDATE payload_purge_cursor SET expires_at = $1, msg_id = $2`, cursor.expires, cursor.id)
		if len(keep) > 0 {
			// Postponed past now, so past the cursor: a later batch takes them again.
			b.Queue(`UPDATE messages SET payload_expires_at = $2 WHERE id = ANY($1)`, keep, later(until, now).Add(postponeBy))
		}
		if len(clear) > 0 {
			b.Queue(`UPDATE messages SET payload = ''::bytea WHERE id = ANY($1) AND payload <> ''::bytea`, clear)
			// An attempt comes after its message: the bound on its ID leaves out the
			// older partitions.
			b.Queue(`UPDATE attempts a SET response = '', headers = '' FROM unnest($1::text[]) AS m(id)
				WHERE a.msg_id = m.id AND a.id >= $2 AND (a.response <> '' OR a.headers <> '')`,
				clear, attemptFloor(clear))
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("purge payloads: %w", err)
	}
	return n, nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// attemptFloor returns the smallest attempt ID the messages' attempts can have.
func attemptFloor(msgIDs []string) string {
	oldest := slices.Min(msgIDs)
	t, ok := hookd.IDTime(oldest)
	if !ok {
		return ""
	}
	// Allow for clocks of different nodes a little apart.
	return hookd.IDAt(hookd.PrefixAttempt, t.Add(-time.Hour))
}

// PurgeMessages deletes what is past the metadata retention: first, whole, the
// message partitions (messages, deliveries, tags and channels) whose every ID is
// older than before and none of whose deliveries is still due; then, in batches of up
// to limit, the messages left in older partitions than that (those of a partition
// kept for a due delivery, and those of the first partition, which holds the rows
// from before partitioning and reaches up to the migration), with their attempts,
// deliveries, tags and channels, keeping those with a delivery still due. A message in
// a partition that reaches past before stays until the whole partition may go: up to
// one partition width past its retention, never less. It returns how many messages
// it deleted row by row, and does nothing (0) while another node purges.
func (s *Store) PurgeMessages(ctx context.Context, before time.Time, limit int) (int, error) {
	bound, err := s.dropMessagePartitions(ctx, before)
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	if bound == "" {
		return 0, nil
	}
	var n int
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if ok, err := retentionLock(ctx, tx, "messages"); err != nil || !ok {
			return err
		}
		// The due check counts per message through the message ID index: as NOT
		// EXISTS it became an anti join reading the deliveries index from its start.
		rows, err := tx.Query(ctx, `SELECT m.id FROM messages m WHERE m.id < $1
				AND (SELECT count(*) FILTER (WHERE d.status IN ($3, $4)) FROM deliveries d WHERE d.msg_id = m.id) = 0
			ORDER BY m.id LIMIT $2 FOR UPDATE SKIP LOCKED`,
			bound, limit, hookd.StatusPending, hookd.StatusSending)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM attempts a USING unnest($1::text[]) AS m(id) WHERE a.msg_id = m.id AND a.id >= $2`,
			ids, attemptFloor(ids))
		for _, table := range []string{"deliveries", "message_tags", "message_channels", "message_event_ids"} {
			b.Queue(`DELETE FROM `+table+` WHERE msg_id = ANY($1)`, ids)
		}
		b.Queue(`DELETE FROM messages WHERE id = ANY($1)`, ids).Exec(func(tag pgconn.CommandTag) error {
			n = int(tag.RowsAffected())
			return nil
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	return n, nil
}

// messageTables are the tables partitioned by message ID, each with the column that
// holds it; they have the same partitions, made and dropped together.
var messageTables = []struct{ name, key string }{
	{"messages", "id"},
	{"deliveries", "msg_id"},
	{"message_tags", "msg_id"},
	{"message_channels", "msg_id"},
}

// dropMessagePartitions drops, each in a transaction of its own, the message
// partitions that end at or before before and have no delivery still due, and returns
// the message ID below which rows past the retention are left to delete one by one:
// the end of the newest partition that ended at or before before and was kept, or
// before itself while the first partition (the rows from before partitioning)
// reaches past it; "" when there are none.
func (s *Store) dropMessagePartitions(ctx context.Context, before time.Time) (string, error) {
	var parts []partition
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		parts, err = partitionsOf(ctx, tx, "messages")
		return err
	})
	if err != nil {
		return "", err
	}
	slices.SortFunc(parts, func(a, b partition) int { return cmp.Compare(a.from, b.from) })
	var bound string
	cut := before.UnixMilli()
	for _, p := range parts {
		if p.to > cut {
			if p.from == 0 {
				bound = hookd.IDAt(hookd.PrefixMessage, before)
			}
			break
		}
		err := s.dropMessagePartition(ctx, p)
		if errors.Is(err, errDue) {
			bound = hookd.IDAt(hookd.PrefixMessage, time.UnixMilli(p.to))
			continue
		}
		if errors.Is(err, errBusy) {
			// Another node purges, or a lock was busy: the next round tries again,
			// rather than deleting the partition's rows one by one meanwhile.
			break
		}
		if err != nil {
			return "", err
		}
	}
	return bound, nil
}

var (
	// errDue is dropMessagePartition's answer for a partition with a delivery still
	// due.
	errDue = errors.New("a delivery is still due")
	// errBusy is dropMessagePartition's answer when another node purges or a lock
	// was busy.
	errBusy = errors.New("busy")
)

// dropMessagePartition drops the partitions of p's range in each of messageTables,
// unless a delivery in it is still due (errDue), another node purges or a lock is
// busy (errBusy). The eventIds of its messages go with them, and so do those of
// their attempts that went to a later attempt partition (a retry); the others are in
// attempt partitions that end no later and are dropped with them.
func (s *Store) dropMessagePartition(ctx context.Context, p partition) error {
	suffix := strings.TrimPrefix(p.name, "messages")
	lo, hi := "", hookd.IDAt(hookd.PrefixMessage, time.UnixMilli(p.to))
	if p.from > 0 {
		lo = hookd.IDAt(hookd.PrefixMessage, time.UnixMilli(p.from))
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if ok, err := retentionLock(ctx, tx, "messages"); err != nil || !ok {
			if err == nil {
				err = errBusy
			}
			return err
		}
		if _, err := tx.Exec(ctx, dropLockTimeout); err != nil {
			return err
		}
		// Locked first, so that no delivery becomes due again (a resend) between the
		// check and the drop: the partitioned tables (DROP TABLE locks them too), then
		// their partitions, in the order in which queries take them.
		var parents, names, missing []string
		for _, t := range messageTables {
			parents = append(parents, pgx.Identifier{t.name}.Sanitize())
			name := pgx.Identifier{t.name + suffix}.Sanitize()
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
				return err
			}
			if exists {
				names = append(names, name)
			} else {
				// Its rows of the range are in the default partition.
				missing = append(missing, `DELETE FROM `+pgx.Identifier{t.name + "_default"}.Sanitize()+
					` WHERE `+pgx.Identifier{t.key}.Sanitize()+` >= $1 AND `+pgx.Identifier{t.key}.Sanitize()+` < $2`)
			}
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE ONLY `+strings.Join(parents, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		var due bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE msg_id >= $1 AND msg_id < $2
			AND status IN `+dueStatuses+`)`, lo, hi).Scan(&due); err != nil {
			return err
		}
		if due {
			return errDue
		}
		b := &pgx.Batch{}
		for _, q := range missing {
			b.Queue(q, lo, hi)
		}
		b.Queue(`DELETE FROM message_event_ids WHERE msg_id >= $1 AND msg_id < $2`, lo, hi)
		b.Queue(`DELETE FROM attempts WHERE msg_id >= $1 AND msg_id < $2 AND id >= $3`,
			lo, hi, hookd.IDAt(hookd.PrefixAttempt, time.UnixMilli(p.to)))
		for i := len(names) - 1; i >= 0; i-- {
			b.Queue(`DROP TABLE ` + names[i])
		}
		return tx.SendBatch(ctx, b).Close()
	})
	switch {
	case isCode(err, codeLockNotAvailable):
		return errBusy
	case err != nil && !errors.Is(err, errDue) && !errors.Is(err, errBusy):
		return fmt.Errorf("drop partition %s: %w", p.name, err)
	}
	return err
}

// partitionAhead is how far past now the partitions reach at least.
const partitionAhead = 3

// ReclaimSpace drops the attempt partitions whose every ID is older than before and
// creates the attempt and message partitions that reach partitionAhead widths past
// now (PurgeMessages drops the message partitions, which must wait for their due
// deliveries). Each drop and each new partition is a short transaction that waits
// at most dropLockTimeout for each lock, so that it never queues the writers behind a
// long reader nor deadlocks with them; what it could not do, the next call does. It
// does nothing while another node purges.
func (s *Store) ReclaimSpace(ctx context.Context, before, now time.Time) error {
	width := s.partitionWidth
	if width <= 0 {
		width = DefaultPartitionWidth
	}
	// Each drop and each new partition is a transaction of its own, so that none
	// holds one table's lock while it waits for another's (see dropLockTimeout).
	step := func(fn func(tx pgx.Tx) error) error {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if ok, err := retentionLock(ctx, tx, "partitions"); err != nil || !ok {
				if err == nil {
					err = errBusy
				}
				return err
			}
			if _, err := tx.Exec(ctx, dropLockTimeout); err != nil {
				return err
			}
			return fn(tx)
		})
		if isCode(err, codeLockNotAvailable) {
			return errBusy
		}
		return err
	}
	// Each table on its own: a transaction that made one table's partition and then
	// waited for another's locks was a deadlock with the writers (the message tables'
	// partitions may therefore exist apart for a while; a drop allows for it).
	sets := [][]struct{ name, key string }{{{"attempts", "id"}}}
	for _, t := range messageTables {
		sets = append(sets, []struct{ name, key string }{t})
	}
	for _, set := range sets {
		// A busy step gives up on this set until the next call; the other set still
		// gets its partitions.
		var top int64 // the lowest of the tables' highest bounds
		var expired []string
		err := step(func(tx pgx.Tx) error {
			for i, t := range set {
				parts, err := partitionsOf(ctx, tx, t.name)
				if err != nil {
					return err
				}
				var tableTop int64
				for _, p := range parts {
					tableTop = max(tableTop, p.to)
					if t.name == "attempts" && p.to <= before.UnixMilli() {
						expired = append(expired, pgx.Identifier{p.name}.Sanitize())
					}
				}
				if tableTop == 0 {
					return fmt.Errorf("%s has no range partition", t.name)
				}
				if i == 0 || tableTop < top {
					top = tableTop
				}
			}
			return nil
		})
		if errors.Is(err, errBusy) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reclaim space: %w", err)
		}
		end := now.Add(partitionAhead * width).UnixMilli()
		// New partitions first: they matter more than space.
		for from := top; from < end; {
			// Bounds are whole widths since the Unix epoch (whole UTC days by default).
			to := (from/width.Milliseconds() + 1) * width.Milliseconds()
			err = step(func(tx pgx.Tx) error {
				for _, t := range set {
					if err := createPartition(ctx, tx, t.name, t.key, from, to); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				break
			}
			from = to
		}
		if err == nil && len(expired) > 0 {
			err = step(func(tx pgx.Tx) error {
				// The partitioned table first, as queries take it (DROP TABLE would
				// lock the partition first, then it).
				if _, err := tx.Exec(ctx, `LOCK TABLE ONLY attempts IN ACCESS EXCLUSIVE MODE`); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `DROP TABLE `+strings.Join(expired, ", "))
				return err
			})
		}
		if err != nil && !errors.Is(err, errBusy) {
			return fmt.Errorf("reclaim space: %w", err)
		}
	}
	return nil
}

// createPartition adds table's partition for the IDs of [from, to) (Unix ms) in its
// column key. Rows that went to the default partition because no partition covered
// them (made by a node whose clock ran far ahead, say) move into it first: the
// partition is made as a table of its own, filled from the default partition and then
// attached, so that such rows never block the partitions after them.
func createPartition(ctx context.Context, tx pgx.Tx, table, key string, from, to int64) error {
	name := pgx.Identifier{table + "_p" + strconv.FormatInt(from, 10) + "_" + strconv.FormatInt(to, 10)}.Sanitize()
	prefix := hookd.PrefixMessage
	if table == "attempts" {
		prefix = hookd.PrefixAttempt
	}
	lo, hi := hookd.IDAt(prefix, time.UnixMilli(from)), hookd.IDAt(prefix, time.UnixMilli(to))
	tbl, def, col := pgx.Identifier{table}.Sanitize(), pgx.Identifier{table + "_default"}.Sanitize(), pgx.Identifier{key}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil || exists {
		return err // one of a set made before its others
	}
	// One statement at a time: the later ones name the table the first makes. The
	// default partition is locked before its rows are moved, or rows that arrive
	// meanwhile would fail the attach; the partitioned table before it, as queries
	// take them.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`LOCK TABLE ONLY ` + tbl + ` IN SHARE UPDATE EXCLUSIVE MODE`, nil},
		{`LOCK TABLE ` + def + ` IN ACCESS EXCLUSIVE MODE`, nil},
		{`CREATE TABLE ` + name + ` (LIKE ` + tbl + ` INCLUDING DEFAULTS)` + fillfactorOf(table), nil},
		{`WITH moved AS (DELETE FROM ` + def + ` WHERE ` + col + ` >= $1 AND ` + col + ` < $2 RETURNING *)
			INSERT INTO ` + name + ` SELECT * FROM moved`, []any{lo, hi}},
		{`ALTER TABLE ` + tbl + ` ATTACH PARTITION ` + name + ` FOR VALUES FROM ('` + lo + `') TO ('` + hi + `')`, nil},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("create partition %s: %w", name, err)
		}
	}
	return nil
}

// fillfactorOf is the storage clause of table's new partitions: messages and the
// attempt log leave room in each page for the smaller versions the payload purge
// writes (a HOT update, see PurgePayloads), which a full page sends to another page,
// with an entry in each index (six WAL records an attempt, measured). With 1 KiB
// payloads a message page holds six messages instead of seven; an attempt page
// (about 600 bytes an attempt, most of it the stored headers) nine to ten instead of
// thirteen. Migration 0020 gives the partitions made before it the same.
func fillfactorOf(table string) string {
	switch table {
	case "messages":
		return ` WITH (fillfactor = 90)`
	case "attempts":
		return ` WITH (fillfactor = 75)`
	}
	return ""
}

// dropLockTimeout bounds how long a partition drop waits for its locks, well under
// deadlock_timeout (1 s by default): a query that waits behind the drop while
// holding a lock the drop needs is a deadlock, and the drop gives up (to try again
// next round) before the deadlock check would cancel either of them. It is also the
// longest that writers queue behind a drop (a drop holds a lock while it waits for
// the next one; the waits add up).
const dropLockTimeout = `SET LOCAL lock_timeout = '100ms'`

// codeLockNotAvailable is lock_timeout's SQLSTATE.
const codeLockNotAvailable = "55P03"

// DefaultPartitionWidth is the time each attempt and message partition covers unless
// Options.PartitionWidth says otherwise.
const DefaultPartitionWidth = 24 * time.Hour

type partition struct {
	name     string
	from, to int64 // Unix milliseconds; from is 0 for the first partition (MINVALUE)
}

// partitionsOf lists the range partitions of table, named <table>_p<from>_<to>.
func partitionsOf(ctx context.Context, tx pgx.Tx, table string) ([]partition, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass`, table)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, n := range names {
		bounds, ok := strings.CutPrefix(n, table+"_p")
		if !ok {
			continue
		}
		a, b, ok := strings.Cut(bounds, "_")
		from, err1 := strconv.ParseInt(a, 10, 64)
		to, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, partition{name: n, from: from, to: to})
	}
	return out, nil
}

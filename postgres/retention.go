package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	_, err = tx.Exec(ctx, `SET LOCAL jit = off`)
	return err == nil, err
}

// PurgePayloads empties the payloads of up to limit messages past their
// PayloadExpiresAt and the response bodies and headers of their attempts; messages
// with a delivery still pending or sending are postponed instead. It does nothing
// (and returns 0) while another node purges.
func (s *Store) PurgePayloads(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if ok, err := retentionLock(ctx, tx, "payloads"); err != nil || !ok {
			return err
		}
		// The row locks order the purge against a resend (which locks the message
		// FOR SHARE): a message being resent is skipped, and a resend after the
		// purge finds the payload gone.
		// FILTER, not a condition on status: the planner must reach the deliveries
		// through their message ID. Given the status it may turn max() into a walk of
		// the due index, milliseconds a message on a queue of any size.
		rows, err := tx.Query(ctx, `SELECT m.id, (SELECT max(d.next_attempt) FILTER (WHERE d.status IN ($3, $4))
				FROM deliveries d WHERE d.msg_id = m.id)
			FROM messages m WHERE m.payload_expires_at <= $1
			ORDER BY m.payload_expires_at LIMIT $2 FOR UPDATE OF m SKIP LOCKED`,
			now, limit, hookd.StatusPending, hookd.StatusSending)
		if err != nil {
			return err
		}
		var clear, keep []string
		var until time.Time
		for rows.Next() {
			var id string
			var due *time.Time
			if err := rows.Scan(&id, &due); err != nil {
				rows.Close()
				return err
			}
			if due != nil {
				keep = append(keep, id)
				if due.After(until) {
					until = *due
				}
			} else {
				clear = append(clear, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(clear) + len(keep)
		b := &pgx.Batch{}
		if len(keep) > 0 {
			if until.Before(now) {
				until = now
			}
			b.Queue(`UPDATE messages SET payload_expires_at = $2 WHERE id = ANY($1)`, keep, until.Add(postponeBy))
		}
		if len(clear) > 0 {
			b.Queue(`UPDATE messages SET payload = ''::bytea, payload_expires_at = NULL WHERE id = ANY($1)`, clear)
			// An attempt comes after its message: the bound on its ID leaves out the
			// older partitions.
			b.Queue(`UPDATE attempts SET response = '', headers = ''
				WHERE msg_id = ANY($1) AND id >= $2 AND (response <> '' OR headers <> '')`,
				clear, attemptFloor(clear))
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("purge payloads: %w", err)
	}
	return n, nil
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

// PurgeMessages deletes up to limit messages accepted before before, with their
// attempts and (by foreign key) deliveries, keeping those with a delivery still due.
// It does nothing (and returns 0) while another node purges.
func (s *Store) PurgeMessages(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if ok, err := retentionLock(ctx, tx, "messages"); err != nil || !ok {
			return err
		}
		// The due check counts per message through the message ID index: as NOT
		// EXISTS it became an anti join reading the deliveries index from its start.
		rows, err := tx.Query(ctx, `SELECT m.id FROM messages m WHERE m.id < $1
				AND (SELECT count(*) FILTER (WHERE d.status IN ($3, $4)) FROM deliveries d WHERE d.msg_id = m.id) = 0
			ORDER BY m.id LIMIT $2 FOR UPDATE SKIP LOCKED`,
			hookd.IDAt(hookd.PrefixMessage, before), limit, hookd.StatusPending, hookd.StatusSending)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM attempts WHERE msg_id = ANY($1) AND id >= $2`, ids, attemptFloor(ids)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM messages WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	return n, nil
}

// partitionAhead is how far past now the attempt partitions reach at least.
const partitionAhead = 3

// ReclaimSpace drops the attempt partitions whose every ID is older than before and
// creates the partitions that reach partitionAhead widths past now. Each DDL
// statement waits at most a second for its lock, so that it never queues the
// attempt log's writers behind a long reader; what it could not do, the next call
// does. It does nothing while another node purges.
func (s *Store) ReclaimSpace(ctx context.Context, before, now time.Time) error {
	width := s.partitionWidth
	if width <= 0 {
		width = DefaultPartitionWidth
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if ok, err := retentionLock(ctx, tx, "partitions"); err != nil || !ok {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`); err != nil {
			return err
		}
		parts, err := attemptPartitions(ctx, tx)
		if err != nil {
			return err
		}
		var top int64
		for _, p := range parts {
			top = max(top, p.to)
			if p.to <= before.UnixMilli() {
				if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{p.name}.Sanitize()); err != nil {
					return fmt.Errorf("drop partition %s: %w", p.name, err)
				}
			}
		}
		if top == 0 {
			return errors.New("attempts has no range partition")
		}
		end := now.Add(partitionAhead * width).UnixMilli()
		for from := top; from < end; {
			// Bounds are whole widths since the Unix epoch (whole UTC days by default).
			to := (from/width.Milliseconds() + 1) * width.Milliseconds()
			if err := createPartition(ctx, tx, from, to); err != nil {
				return err
			}
			from = to
		}
		return nil
	})
	if err != nil && isCode(err, codeLockNotAvailable) {
		return nil // busy: the next call tries again
	}
	if err != nil {
		return fmt.Errorf("reclaim space: %w", err)
	}
	return nil
}

// createPartition adds the attempt partition for the IDs of [from, to) (Unix ms).
// Attempts that went to attempts_default because no partition covered them (one made
// by a node whose clock ran far ahead, say) move into it first: the partition is made
// as a table of its own, filled from the default partition and then attached, so
// that such rows never block the partitions after them.
func createPartition(ctx context.Context, tx pgx.Tx, from, to int64) error {
	name := pgx.Identifier{"attempts_p" + strconv.FormatInt(from, 10) + "_" + strconv.FormatInt(to, 10)}.Sanitize()
	lo, hi := hookd.IDAt(hookd.PrefixAttempt, time.UnixMilli(from)), hookd.IDAt(hookd.PrefixAttempt, time.UnixMilli(to))
	// One statement at a time: the later ones name the table the first makes.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`CREATE TABLE ` + name + ` (LIKE attempts INCLUDING DEFAULTS)`, nil},
		{`WITH moved AS (DELETE FROM attempts_default WHERE id >= $1 AND id < $2 RETURNING *)
			INSERT INTO ` + name + ` SELECT * FROM moved`, []any{lo, hi}},
		{`ALTER TABLE attempts ATTACH PARTITION ` + name + ` FOR VALUES FROM ('` + lo + `') TO ('` + hi + `')`, nil},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("create partition %s: %w", name, err)
		}
	}
	return nil
}

// codeLockNotAvailable is lock_timeout's SQLSTATE.
const codeLockNotAvailable = "55P03"

// DefaultPartitionWidth is the time each attempt partition covers unless
// Options.PartitionWidth says otherwise.
const DefaultPartitionWidth = 24 * time.Hour

type partition struct {
	name     string
	from, to int64 // Unix milliseconds
}

// attemptPartitions lists the range partitions of attempts, named
// attempts_p<from>_<to>.
func attemptPartitions(ctx context.Context, tx pgx.Tx) ([]partition, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'attempts'::regclass`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, n := range names {
		bounds, ok := strings.CutPrefix(n, "attempts_p")
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

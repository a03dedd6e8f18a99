package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// With BacklogBulk the backlog is not sent through the API: its messages and their
// pending deliveries, one to each of the application's endpoints, due at once, are
// written into the running server's database with bulk SQL (multi-row INSERTs on
// SQLite, COPY on PostgreSQL), while the receiver holds every request. The server
// finds them as it finds any due delivery it did not hand off itself (its claimer
// looks at least every poll interval), claims, signs and sends them, and the receiver
// verifies each one, so the drain after the release is the real one; only the
// building of the backlog, which through the API takes longer than its drain, is
// skipped. A message counts as accepted once the transaction that wrote it has
// committed.

// writeBacklog writes n messages of payload, spread over apps in turn, each with a
// pending delivery to every endpoint of its application, into the store at db, and
// calls accepted with the IDs of the messages of each committed transaction.
func writeBacklog(ctx context.Context, store, db string, apps []benchApp, n int, payload []byte, accepted func(ids []string)) error {
	var err error
	if store == "postgres" {
		err = backlogPostgres(ctx, db, apps, n, payload, accepted)
	} else {
		err = backlogSQLite(ctx, db, apps, n, payload, accepted)
	}
	if err != nil {
		return fmt.Errorf("backlog: %w", err)
	}
	return nil
}

// backlogRows generates the backlog's rows in ID order and hands them to msg and dlv.
func backlogRows(apps []benchApp, n int, msg func(id, appID string, at time.Time) error, dlv func(id, appID, msgID, endpointID string, at time.Time) error) error {
	var ids hookd.IDGen
	for j := range n {
		at := time.Now()
		a := apps[j%len(apps)]
		msgID := ids.New(hookd.PrefixMessage)
		if err := msg(msgID, a.id, at); err != nil {
			return err
		}
		for _, ep := range a.endpoints {
			if err := dlv(ids.New(hookd.PrefixDelivery), a.id, msgID, ep, at); err != nil {
				return err
			}
		}
	}
	return nil
}

func backlogSQLite(ctx context.Context, path string, apps []benchApp, n int, payload []byte, accepted func([]string)) error {
	b, err := openSQLiteBulk(ctx, path,
		rowBuffer{head: `INSERT INTO messages (id, app_id, event_type, payload, timestamp) VALUES `, cols: 5},
		rowBuffer{head: `INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt, created_at, updated_at) VALUES `, cols: 9})
	if err != nil {
		return err
	}
	defer b.close()
	var pending []string // messages of the open transaction
	b.afterCommit = func() {
		accepted(pending)
		pending = pending[:0]
	}
	body := string(payload)
	err = backlogRows(apps, n,
		func(id, appID string, at time.Time) error {
			pending = append(pending, id)
			return b.add(ctx, 0, id, appID, EventType, body, at.UnixMicro())
		},
		func(id, appID, msgID, endpointID string, at time.Time) error {
			us := at.UnixMicro()
			return b.add(ctx, 1, id, appID, msgID, endpointID, int(hookd.StatusPending), 0, us, us, us)
		})
	if err != nil {
		return err
	}
	return b.finish(ctx)
}

func backlogPostgres(ctx context.Context, dsn string, apps []benchApp, n int, payload []byte, accepted func([]string)) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var msgs, dlvs [][]any
	var ids []string
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		// Messages and their deliveries in one transaction, so the server never
		// claims a delivery whose message it cannot read yet.
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"}, []string{"id", "app_id", "event_type", "payload", "timestamp"}, pgx.CopyFromRows(msgs)); err != nil {
			return fmt.Errorf("copy messages: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"deliveries"}, []string{"id", "app_id", "msg_id", "endpoint_id", "status", "attempts", "next_attempt", "created_at", "updated_at"}, pgx.CopyFromRows(dlvs)); err != nil {
			return fmt.Errorf("copy deliveries: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		accepted(ids)
		msgs, dlvs, ids = msgs[:0], dlvs[:0], ids[:0]
		return nil
	}
	err = backlogRows(apps, n,
		func(id, appID string, at time.Time) error {
			if len(dlvs) >= pgChunk {
				if err := flush(); err != nil {
					return err
				}
			}
			msgs, ids = append(msgs, []any{id, appID, EventType, payload, at}), append(ids, id)
			return nil
		},
		func(id, appID, msgID, endpointID string, at time.Time) error {
			dlvs = append(dlvs, []any{id, appID, msgID, endpointID, int16(hookd.StatusPending), int32(0), at, at, at})
			return nil
		})
	if err == nil {
		err = flush()
	}
	if err == nil {
		// As after a preload: the tables' statistics are the loader's business, and
		// the claim's plan depends on them (autovacuum may be off).
		_, err = conn.Exec(ctx, `ANALYZE messages; ANALYZE deliveries`)
	}
	return err
}

package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd"
)

const appColumns = `id, coalesce(uid, ''), name, rate_limit, metadata, retry_schedule, require_https, created_at, updated_at`

// CreateApp inserts app; a UID already used is ECONFLICT.
func (s *Store) CreateApp(ctx context.Context, app *hookd.Application) error {
	meta, err := marshalJSON(app.Metadata)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO apps (id, uid, name, rate_limit, metadata, retry_schedule, require_https,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		app.ID, nullString(app.UID), app.Name, app.RateLimit, meta, app.RetrySchedule, app.RequireHTTPS,
		app.CreatedAt, app.UpdatedAt)
	return storeErr(err, "create application", "an application with this uid already exists")
}

// App returns the application whose ID or UID is idOrUID.
func (s *Store) App(ctx context.Context, idOrUID string) (*hookd.Application, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1 OR uid = $1
		ORDER BY id = $1 DESC LIMIT 1`, idOrUID)
	app, err := scanApp(row)
	if err != nil {
		return nil, storeErr(err, "application", "")
	}
	return app, nil
}

// UpdateApp replaces the mutable fields of the application app.ID.
func (s *Store) UpdateApp(ctx context.Context, app *hookd.Application) error {
	meta, err := marshalJSON(app.Metadata)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE apps SET uid = $2, name = $3, rate_limit = $4, metadata = $5,
		retry_schedule = $6, updated_at = $7, require_https = $8 WHERE id = $1`,
		app.ID, nullString(app.UID), app.Name, app.RateLimit, meta, app.RetrySchedule, app.UpdatedAt,
		app.RequireHTTPS)
	if err != nil {
		return storeErr(err, "update application", "an application with this uid already exists")
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "application not found")
	}
	return nil
}

// DeleteApp deletes the application; its endpoints, messages and eventIds go with it
// (foreign keys cascade), its attempts, deliveries, tags and channels first, found
// through its messages (they have no foreign key to them).
func (s *Store) DeleteApp(ctx context.Context, id string) error {
	var tag pgconn.CommandTag
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, table := range []string{"attempts", "deliveries", "message_tags", "message_channels"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE msg_id IN (SELECT id FROM messages WHERE app_id = $1)`, id); err != nil {
				return err
			}
		}
		var err error
		tag, err = tx.Exec(ctx, `DELETE FROM apps WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete application: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "application not found")
	}
	return nil
}

// Apps lists applications by ID.
func (s *Store) Apps(ctx context.Context, page hookd.Page) ([]*hookd.Application, error) {
	var w where
	order := w.page("id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+appColumns+` FROM apps`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	apps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Application, error) { return scanApp(r) })
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return apps, nil
}

func scanApp(row pgx.Row) (*hookd.Application, error) {
	var a hookd.Application
	var meta []byte
	if err := row.Scan(&a.ID, &a.UID, &a.Name, &a.RateLimit, &meta, &a.RetrySchedule, &a.RequireHTTPS, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(meta, &a.Metadata); err != nil {
		return nil, err
	}
	return &a, nil
}

// marshalJSON encodes v for a jsonb column; nil maps and slices become NULL so that
// they read back as nil.
func marshalJSON[T any](v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// unmarshalJSON decodes a jsonb column; NULL leaves v as it is.
func unmarshalJSON(b []byte, v any) error {
	if b == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	return nil
}

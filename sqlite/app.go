package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookd/hookd"
)

const appColumns = `id, uid, name, rate_limit, metadata, retry_schedule, require_https, created_at, updated_at`

func scanApp(sc scanner) (*hookd.Application, error) {
	var (
		a                hookd.Application
		uid              sql.NullString
		meta             string
		created, updated int64
		https            int
	)
	if err := sc.Scan(&a.ID, &uid, &a.Name, &a.RateLimit, &meta, &a.RetrySchedule, &https, &created, &updated); err != nil {
		return nil, err
	}
	a.RequireHTTPS = https != 0
	a.UID = fromOptional(uid)
	var err error
	if a.Metadata, err = parseMap(meta); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromTS(created), fromTS(updated)
	return &a, nil
}

// CreateApp inserts app.
func (s *Store) CreateApp(ctx context.Context, app *hookd.Application) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`INSERT INTO applications (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			app.ID, optional(app.UID), app.Name, app.RateLimit, strMap(app.Metadata), app.RetrySchedule,
			app.RequireHTTPS, ts(app.CreatedAt), ts(app.UpdatedAt))
		return false, err
	})
	if isUnique(err) {
		return hookd.Errorf(hookd.ECONFLICT, "an application with this uid already exists")
	}
	if err != nil {
		return fmt.Errorf("create app: %w", err)
	}
	return nil
}

// App returns the application whose ID or UID is idOrUID.
func (s *Store) App(ctx context.Context, idOrUID string) (*hookd.Application, error) {
	a, err := scanApp(s.queryRow(ctx, `SELECT `+appColumns+` FROM applications
		WHERE id = ?1 OR uid = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrUID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("application")
	}
	if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	return a, nil
}

// UpdateApp replaces the mutable fields of the application app.ID.
func (s *Store) UpdateApp(ctx context.Context, app *hookd.Application) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE applications SET uid = ?, name = ?, rate_limit = ?, metadata = ?,
			retry_schedule = ?, require_https = ?, updated_at = ? WHERE id = ?`,
			optional(app.UID), app.Name, app.RateLimit, strMap(app.Metadata), app.RetrySchedule,
			app.RequireHTTPS, ts(app.UpdatedAt), app.ID)
		if err == nil && n == 0 {
			err = notFound("application")
		}
		return false, err
	})
	if isUnique(err) {
		return hookd.Errorf(hookd.ECONFLICT, "an application with this uid already exists")
	}
	if err != nil && !hookd.IsNotFound(err) {
		return fmt.Errorf("update app: %w", err)
	}
	return err
}

// DeleteApp deletes the application with its endpoints, messages, deliveries and
// attempts.
func (s *Store) DeleteApp(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		// Nothing references messages by foreign key: the rows that belong to them go
		// first, then the application's cascade takes its messages and endpoints
		// (deliveries first: the endpoints' cascade would otherwise reach them).
		for _, q := range []string{
			`DELETE FROM deliveries WHERE app_id = ?`,
			`DELETE FROM attempts WHERE msg_id IN (SELECT id FROM messages WHERE app_id = ?)`,
			`DELETE FROM message_tags WHERE msg_id IN (SELECT id FROM messages WHERE app_id = ?)`,
			`DELETE FROM message_channels WHERE msg_id IN (SELECT id FROM messages WHERE app_id = ?)`,
		} {
			if _, err := tx.exec(q, id); err != nil {
				return false, err
			}
		}
		n, err := tx.affected(`DELETE FROM applications WHERE id = ?`, id)
		if err == nil && n == 0 {
			err = notFound("application")
		}
		return false, err
	})
	if err != nil && !hookd.IsNotFound(err) {
		return fmt.Errorf("delete app: %w", err)
	}
	return err
}

// Apps lists applications by ID.
func (s *Store) Apps(ctx context.Context, page hookd.Page) ([]*hookd.Application, error) {
	cond, tail, args := pageSQL("id", page, nil)
	out, err := list(ctx, s, `SELECT `+appColumns+` FROM applications WHERE 1`+cond+tail, args, scanApp)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return out, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const taskColumns = `id, kind, status, app_id, endpoint_id, params, cursor, data, runs, owner, lease_until, created_at, updated_at`

func scanTask(row pgx.Row) (*hookd.Task, error) {
	var (
		t            hookd.Task
		params, data string
	)
	if err := row.Scan(&t.ID, &t.Kind, &t.Status, &t.AppID, &t.EndpointID, &params, &t.Cursor, &data,
		&t.Runs, &t.Owner, &t.LeaseUntil, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	t.Params, t.Data = []byte(params), []byte(data)
	return &t, nil
}

// rawJSON stores an unset JSON column as an empty object.
func rawJSON(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// CreateTask inserts t.
func (s *Store) CreateTask(ctx context.Context, t *hookd.Task) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tasks (`+taskColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		t.ID, string(t.Kind), string(t.Status), t.AppID, t.EndpointID, rawJSON(t.Params), t.Cursor, rawJSON(t.Data),
		t.Runs, t.Owner, t.LeaseUntil, t.CreatedAt, t.UpdatedAt)
	return storeErr(err, "create task", "a background task with this ID already exists")
}

// Task returns one task.
func (s *Store) Task(ctx context.Context, id string) (*hookd.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
	if err != nil {
		return nil, storeErr(err, "background task", "")
	}
	return t, nil
}

// Tasks lists tasks by ID.
func (s *Store) Tasks(ctx context.Context, filter hookd.TaskFilter, page hookd.Page) ([]*hookd.Task, error) {
	var w where
	if filter.Status != "" {
		w.add("status = ?", string(filter.Status))
	}
	if filter.Kind != "" {
		w.add("kind = ?", string(filter.Kind))
	}
	order := w.page("id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+taskColumns+` FROM tasks`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Task, error) { return scanTask(r) })
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// ClaimTask leases the oldest running task whose lease has expired. SKIP LOCKED lets
// nodes claiming at once take different tasks, and the lease keeps a claimed task
// from being claimed again while its owner works on it.
func (s *Store) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*hookd.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `UPDATE tasks SET owner = $1, lease_until = $2, runs = runs + 1
		WHERE id = (SELECT id FROM tasks WHERE status = 'running' AND lease_until <= $3
			ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+taskColumns, owner, now.Add(lease), now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim task: %w", err)
	}
	return t, nil
}

// UpdateTask saves the task's progress where its owner still holds it.
func (s *Store) UpdateTask(ctx context.Context, t *hookd.Task) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tasks SET status = $1, cursor = $2, data = $3, lease_until = $4, updated_at = $5
		WHERE id = $6 AND owner = $7`,
		string(t.Status), t.Cursor, rawJSON(t.Data), t.LeaseUntil, t.UpdatedAt, t.ID, t.Owner)
	if err != nil {
		return fmt.Errorf("update task: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ECONFLICT, "background task %s is no longer held by %s", t.ID, t.Owner)
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

const taskColumns = `id, kind, status, app_id, endpoint_id, params, cursor, data, runs, owner, lease_until, created_at, updated_at`

func scanTask(sc scanner) (*hookd.Task, error) {
	var (
		t                       hookd.Task
		params, data            string
		lease, created, updated int64
	)
	if err := sc.Scan(&t.ID, &t.Kind, &t.Status, &t.AppID, &t.EndpointID, &params, &t.Cursor, &data,
		&t.Runs, &t.Owner, &lease, &created, &updated); err != nil {
		return nil, err
	}
	t.Params, t.Data = []byte(params), []byte(data)
	t.LeaseUntil, t.CreatedAt, t.UpdatedAt = fromTS(lease), fromTS(created), fromTS(updated)
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
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`INSERT INTO tasks (`+taskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, string(t.Kind), string(t.Status), t.AppID, t.EndpointID, rawJSON(t.Params), t.Cursor, rawJSON(t.Data),
			t.Runs, t.Owner, ts(t.LeaseUntil), ts(t.CreatedAt), ts(t.UpdatedAt))
		return false, err
	})
	return wrap("create task", err)
}

// Task returns one task.
func (s *Store) Task(ctx context.Context, id string) (*hookd.Task, error) {
	t, err := scanTask(s.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("background task")
	}
	if err != nil {
		return nil, fmt.Errorf("get task: %w", err)
	}
	return t, nil
}

// Tasks lists tasks by ID.
func (s *Store) Tasks(ctx context.Context, filter hookd.TaskFilter, page hookd.Page) ([]*hookd.Task, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + taskColumns + ` FROM tasks WHERE 1`)
	var args []any
	if filter.Status != "" {
		b.WriteString(` AND status = ?`)
		args = append(args, string(filter.Status))
	}
	if filter.Kind != "" {
		b.WriteString(` AND kind = ?`)
		args = append(args, string(filter.Kind))
	}
	cond, tail, args := pageSQL("id", page, args)
	b.WriteString(cond + tail)
	out, err := list(ctx, s, b.String(), args, scanTask)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// ClaimTask leases the oldest running task whose lease has expired.
func (s *Store) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*hookd.Task, error) {
	var t *hookd.Task
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var err error
		t, err = scanTask(tx.queryRow(`UPDATE tasks SET owner = ?, lease_until = ?, runs = runs + 1
			WHERE id = (SELECT id FROM tasks WHERE status = 'running' AND lease_until <= ? ORDER BY id LIMIT 1)
			RETURNING `+taskColumns, owner, ts(now.Add(lease)), ts(now)))
		if errors.Is(err, sql.ErrNoRows) {
			t, err = nil, nil
		}
		return false, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim task: %w", err)
	}
	return t, nil
}

// UpdateTask saves the task's progress where its owner still holds it.
func (s *Store) UpdateTask(ctx context.Context, t *hookd.Task) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE tasks SET status = ?, cursor = ?, data = ?, lease_until = ?, updated_at = ?
			WHERE id = ? AND owner = ?`,
			string(t.Status), t.Cursor, rawJSON(t.Data), ts(t.LeaseUntil), ts(t.UpdatedAt), t.ID, t.Owner)
		if err != nil {
			return false, err
		}
		if n == 0 {
			return false, hookd.Errorf(hookd.ECONFLICT, "background task %s is no longer held by %s", t.ID, t.Owner)
		}
		return false, nil
	})
	return wrap("update task", err)
}

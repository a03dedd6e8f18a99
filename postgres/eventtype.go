package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const eventTypeColumns = `name, description, archived, deprecated, feature_flag, schemas, retry_schedule,
	created_at, updated_at, enforce_schema`

// CreateEventType inserts et; a name already used is ECONFLICT.
func (s *Store) CreateEventType(ctx context.Context, et *hookd.EventType) error {
	schemas, err := marshalJSON(et.Schemas)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO event_types (name, description, archived, deprecated,
		feature_flag, schemas, retry_schedule, created_at, updated_at, enforce_schema)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		et.Name, et.Description, et.Archived, et.Deprecated, et.FeatureFlag, schemas, et.RetrySchedule,
		et.CreatedAt, et.UpdatedAt, et.EnforceSchema)
	return storeErr(err, "create event type", "an event type with this name already exists")
}

// EventType returns the event type named name.
func (s *Store) EventType(ctx context.Context, name string) (*hookd.EventType, error) {
	et, err := scanEventType(s.pool.QueryRow(ctx, `SELECT `+eventTypeColumns+` FROM event_types WHERE name = $1`, name))
	if err != nil {
		return nil, storeErr(err, "event type", "")
	}
	return et, nil
}

// UpdateEventType replaces the mutable fields of the event type et.Name.
func (s *Store) UpdateEventType(ctx context.Context, et *hookd.EventType) error {
	schemas, err := marshalJSON(et.Schemas)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE event_types SET description = $2, archived = $3, deprecated = $4,
		feature_flag = $5, schemas = $6, retry_schedule = $7, updated_at = $8, enforce_schema = $9 WHERE name = $1`,
		et.Name, et.Description, et.Archived, et.Deprecated, et.FeatureFlag, schemas, et.RetrySchedule, et.UpdatedAt,
		et.EnforceSchema)
	if err != nil {
		return fmt.Errorf("update event type: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "event type not found")
	}
	return nil
}

// DeleteEventType deletes the event type.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM event_types WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete event type: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "event type not found")
	}
	return nil
}

// EventTypes lists event types by name.
func (s *Store) EventTypes(ctx context.Context, filter hookd.EventTypeFilter, page hookd.Page) ([]*hookd.EventType, error) {
	var w where
	if !filter.IncludeArchived {
		w.add("NOT archived")
	}
	order := w.page("name", page)
	rows, err := s.pool.Query(ctx, `SELECT `+eventTypeColumns+` FROM event_types`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	ets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.EventType, error) { return scanEventType(r) })
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	return ets, nil
}

func scanEventType(row pgx.Row) (*hookd.EventType, error) {
	var et hookd.EventType
	var schemas []byte
	if err := row.Scan(&et.Name, &et.Description, &et.Archived, &et.Deprecated, &et.FeatureFlag, &schemas,
		&et.RetrySchedule, &et.CreatedAt, &et.UpdatedAt, &et.EnforceSchema); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(schemas, &et.Schemas); err != nil {
		return nil, err
	}
	return &et, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hookd/hookd"
)

const eventTypeColumns = `name, description, archived, deprecated, feature_flag, schemas,
	retry_schedule, created_at, updated_at, enforce_schema`

func schemasText(m map[string]json.RawMessage) string {
	if len(m) == 0 {
		return "{}"
	}
	return jsonText(m)
}

func scanEventType(sc scanner) (*hookd.EventType, error) {
	var (
		et               hookd.EventType
		archived, depr   int
		enforce          int
		schemas          string
		created, updated int64
	)
	if err := sc.Scan(&et.Name, &et.Description, &archived, &depr, &et.FeatureFlag, &schemas,
		&et.RetrySchedule, &created, &updated, &enforce); err != nil {
		return nil, err
	}
	et.Archived, et.Deprecated, et.EnforceSchema = archived != 0, depr != 0, enforce != 0
	et.CreatedAt, et.UpdatedAt = fromTS(created), fromTS(updated)
	if schemas != "{}" && schemas != "" {
		if err := json.Unmarshal([]byte(schemas), &et.Schemas); err != nil {
			return nil, fmt.Errorf("decode schemas: %w", err)
		}
	}
	return &et, nil
}

// CreateEventType inserts et.
func (s *Store) CreateEventType(ctx context.Context, et *hookd.EventType) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`INSERT INTO event_types (`+eventTypeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			et.Name, et.Description, boolInt(et.Archived), boolInt(et.Deprecated), et.FeatureFlag,
			schemasText(et.Schemas), et.RetrySchedule, ts(et.CreatedAt), ts(et.UpdatedAt), boolInt(et.EnforceSchema))
		return false, err
	})
	if isUnique(err) {
		return hookd.Errorf(hookd.ECONFLICT, "an event type with this name already exists")
	}
	if err != nil {
		return fmt.Errorf("create event type: %w", err)
	}
	return nil
}

// EventType returns the event type named name.
func (s *Store) EventType(ctx context.Context, name string) (*hookd.EventType, error) {
	et, err := scanEventType(s.queryRow(ctx, `SELECT `+eventTypeColumns+` FROM event_types WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event type")
	}
	if err != nil {
		return nil, fmt.Errorf("get event type: %w", err)
	}
	return et, nil
}

// UpdateEventType replaces every mutable field of the event type et.Name.
func (s *Store) UpdateEventType(ctx context.Context, et *hookd.EventType) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE event_types SET description = ?, archived = ?, deprecated = ?,
			feature_flag = ?, schemas = ?, retry_schedule = ?, updated_at = ?, enforce_schema = ? WHERE name = ?`,
			et.Description, boolInt(et.Archived), boolInt(et.Deprecated), et.FeatureFlag,
			schemasText(et.Schemas), et.RetrySchedule, ts(et.UpdatedAt), boolInt(et.EnforceSchema), et.Name)
		if err == nil && n == 0 {
			err = notFound("event type")
		}
		return false, err
	})
	if err != nil && !hookd.IsNotFound(err) {
		return fmt.Errorf("update event type: %w", err)
	}
	return err
}

// DeleteEventType deletes the event type.
func (s *Store) DeleteEventType(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`DELETE FROM event_types WHERE name = ?`, name)
		if err == nil && n == 0 {
			err = notFound("event type")
		}
		return false, err
	})
	if err != nil && !hookd.IsNotFound(err) {
		return fmt.Errorf("delete event type: %w", err)
	}
	return err
}

// EventTypes lists event types by name (Z to A unless page.Ascending).
func (s *Store) EventTypes(ctx context.Context, filter hookd.EventTypeFilter, page hookd.Page) ([]*hookd.EventType, error) {
	where := ` WHERE 1`
	if !filter.IncludeArchived {
		where = ` WHERE archived = 0`
	}
	cond, tail, args := pageSQL("name", page, nil)
	out, err := list(ctx, s, `SELECT `+eventTypeColumns+` FROM event_types`+where+cond+tail, args, scanEventType)
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	return out, nil
}

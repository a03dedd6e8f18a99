package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Times are stored as unix microseconds, the precision PostgreSQL keeps too.

func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(us int64) time.Time { return time.UnixMicro(us).UTC() }

// tsPtr stores an optional time as NULL when nil.
func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// optionalTS stores a zero time as NULL.
func optionalTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromTSPtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

// optional stores an empty optional key (uid, event_id) as NULL so that the unique
// index ignores it.
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func fromOptional(v sql.NullString) string { return v.String }

// jsonText marshals v for a JSON text column; nil maps and slices are stored empty.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings, string slices and raw schemas reach here.
		panic("sqlite: marshal " + err.Error())
	}
	return string(b)
}

func strList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	return jsonText(l)
}

func strMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	return jsonText(m)
}

func parseList(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return l, nil
}

func parseMap(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode map: %w", err)
	}
	return m, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sqliteCode returns the extended result code of a driver error, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func notFound(what string) error {
	return hookd.Errorf(hookd.ENOTFOUND, "%s not found", what)
}

// pageSQL returns the keyset condition (with a leading " AND ", or "") and the ORDER
// BY/LIMIT tail for page over col, appending the iterator to args.
func pageSQL(col string, page hookd.Page, args []any) (cond, tail string, _ []any) {
	limit := page.Size()
	dir, op := "DESC", "<"
	if page.Ascending {
		dir, op = "ASC", ">"
	}
	if page.Iterator != "" {
		cond = " AND " + col + " " + op + " ?"
		args = append(args, page.Iterator)
	}
	tail = fmt.Sprintf(" ORDER BY %s %s LIMIT %d", col, dir, limit)
	return cond, tail, args
}

// inList returns "(?, ?, …)" for n values and appends them to args.
func inList(values []string, args []any) (string, []any) {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
		args = append(args, v)
	}
	b.WriteByte(')')
	return b.String(), args
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// list runs a read and scans every row; it never returns a nil slice without error.
func list[T any](ctx context.Context, s *Store, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]T, 0)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// wrap adds context to low-level errors and returns a *hookd.Error unchanged.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*hookd.Error](err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Statuses and triggers as SQL literals, so that queries name them. They are made from
// hookd's constants, which are the Svix API's numbers and what the tables store.
var (
	statusSuccess    = sqlInt(hookd.StatusSuccess)
	statusPending    = sqlInt(hookd.StatusPending)
	statusFail       = sqlInt(hookd.StatusFail)
	statusSending    = sqlInt(hookd.StatusSending)
	triggerScheduled = sqlInt(hookd.TriggerScheduled)
	triggerManual    = sqlInt(hookd.TriggerManual)
	// dueStatuses are those ClaimDeliveries hands out, written as the partial index
	// deliveries_due_unordered and deliveries_fifo are, so that the planner uses them.
	dueStatuses = "(" + statusPending + ", " + statusSending + ")"
)

func sqlInt[T ~int](v T) string { return strconv.Itoa(int(v)) }

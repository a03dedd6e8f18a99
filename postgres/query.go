package postgres

import (
	"strconv"
	"strings"

	"github.com/hookd/hookd"
)

// where builds the WHERE clause of a list query with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends a condition in which each "?" is replaced by the next parameter.
func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	i := 0
	for _, r := range cond {
		if r == '?' && i < len(args) {
			w.args = append(w.args, args[i])
			i++
			b.WriteString("$" + strconv.Itoa(len(w.args)))
			continue
		}
		b.WriteRune(r)
	}
	w.conds = append(w.conds, b.String())
}

// page adds the iterator condition on col and returns the ORDER BY and LIMIT clause
// for p.
func (w *where) page(col string, p hookd.Page) string {
	limit := p.Size()
	dir, cmp := "DESC", "<"
	if p.Ascending {
		dir, cmp = "ASC", ">"
	}
	if p.Iterator != "" {
		w.add(col+" "+cmp+" ?", p.Iterator)
	}
	w.args = append(w.args, limit)
	return " ORDER BY " + col + " " + dir + " LIMIT $" + strconv.Itoa(len(w.args))
}

// pageLed is page with the ORDER BY led by lead (a column the conditions fix to one
// value), unless lead is "".
func (w *where) pageLed(lead, col string, p hookd.Page) string {
	order := w.page(col, p)
	if lead == "" {
		return order
	}
	dir := " DESC"
	if p.Ascending {
		dir = " ASC"
	}
	return strings.Replace(order, " ORDER BY ", " ORDER BY "+lead+dir+", ", 1)
}

// String returns " WHERE a AND b", or "" without conditions.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookd/hookd"
)

// FIFOState counts the endpoint's ordered deliveries through deliveries_fifo and lists
// its held ones, each with its latest attempt (attempts_msg), in one read
// transaction.
func (s *Store) FIFOState(ctx context.Context, appID, endpointID string, limit int) (*hookd.FIFOState, error) {
	st, err := s.fifoState(ctx, appID, endpointID, limit)
	if err != nil {
		if hookd.IsNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("fifo state: %w", err)
	}
	return st, nil
}

func (s *Store) fifoState(ctx context.Context, appID, endpointID string, limit int) (*hookd.FIFOState, error) {
	tx, err := s.reader.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var ok bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = ? AND id = ?)`,
		appID, endpointID).Scan(&ok); err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("endpoint")
	}
	var st hookd.FIFOState
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = `+statusPending+`),
			count(*) FILTER (WHERE status = `+statusSending+`), count(DISTINCT fifo_key), count(*) FILTER (WHERE fifo_hold = 1)
		FROM deliveries INDEXED BY deliveries_fifo
		WHERE fifo_key IS NOT NULL AND (status IN `+dueStatuses+` OR fifo_hold = 1) AND endpoint_id = ?`,
		endpointID).Scan(&st.Pending, &st.Sending, &st.Keys, &st.HeldCount); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT fifo_key, msg_id, updated_at FROM deliveries INDEXED BY deliveries_fifo
		WHERE fifo_key IS NOT NULL AND (status IN `+dueStatuses+` OR fifo_hold = 1) AND endpoint_id = ? AND fifo_hold = 1
		ORDER BY fifo_key, rowid LIMIT ?`, endpointID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h hookd.FIFOHalt
		var since int64
		if err := rows.Scan(&h.OrderingKey, &h.MsgID, &since); err != nil {
			return nil, err
		}
		h.Since = fromTS(since)
		st.Halted = append(st.Halted, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range st.Halted {
		h := &st.Halted[i]
		a, err := scanAttempt(tx.QueryRowContext(ctx, `SELECT `+attemptColumns+` FROM attempts
			WHERE msg_id = ? AND endpoint_id = ? ORDER BY id DESC LIMIT 1`, h.MsgID, endpointID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			h.LastAttempt = a
		}
	}
	return &st, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// FIFOState counts the endpoint's ordered deliveries through deliveries_fifo and lists
// its held ones, each with its latest attempt (attempts_msg).
func (s *Store) FIFOState(ctx context.Context, appID, endpointID string, limit int) (*hookd.FIFOState, error) {
	var st hookd.FIFOState
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		if err := requireEndpoint(ctx, tx, appID, endpointID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = $2), count(*) FILTER (WHERE status = $3),
				count(DISTINCT fifo_key), count(*) FILTER (WHERE fifo_hold)
			FROM deliveries WHERE endpoint_id = $1 AND fifo_key IS NOT NULL AND (status IN `+dueStatuses+` OR fifo_hold)`,
			endpointID, hookd.StatusPending, hookd.StatusSending).Scan(&st.Pending, &st.Sending, &st.Keys, &st.HeldCount); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT fifo_key, msg_id, updated_at FROM deliveries
			WHERE endpoint_id = $1 AND fifo_key IS NOT NULL AND (status IN `+dueStatuses+` OR fifo_hold) AND fifo_hold
			ORDER BY fifo_key, fifo_seq LIMIT $2`, endpointID, limit)
		if err != nil {
			return err
		}
		st.Halted, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (hookd.FIFOHalt, error) {
			var h hookd.FIFOHalt
			err := r.Scan(&h.OrderingKey, &h.MsgID, &h.Since)
			return h, err
		})
		if err != nil {
			return err
		}
		for i := range st.Halted {
			h := &st.Halted[i]
			a, err := scanAttempt(tx.QueryRow(ctx, `SELECT `+attemptColumns+` FROM attempts a
				WHERE a.msg_id = $1 AND a.endpoint_id = $2 ORDER BY a.id DESC LIMIT 1`, h.MsgID, endpointID))
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			default:
				h.LastAttempt = a
			}
		}
		return nil
	})
	if err != nil {
		if hookd.IsNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("fifo state: %w", err)
	}
	return &st, nil
}

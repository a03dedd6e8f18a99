package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd"
)

// storedTransition is the JSON form of a hookd.CircuitTransition.
type storedTransition struct {
	From   hookd.CircuitState `json:"from"`
	To     hookd.CircuitState `json:"to"`
	At     int64              `json:"at"` // unix microseconds
	Reason string             `json:"reason"`
}

// optTS stores an optional time as 0 when zero.
func optTS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ts(t)
}

func fromOptTS(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromTS(us)
}

// Circuit returns the endpoint's circuit, a closed one if none is stored.
func (s *Store) Circuit(ctx context.Context, appID, endpointID string) (*hookd.Circuit, error) {
	c := hookd.NewCircuit(appID, endpointID)
	var since, backoff, next, probe, paused int64
	var state, trans string
	err := s.queryRow(ctx, `SELECT state, since, failures, backoff, next_probe, probe_until,
		paused_until, transitions, version FROM endpoint_circuits WHERE endpoint_id = ? AND app_id = ?`,
		endpointID, appID).Scan(&state, &since, &c.Failures, &backoff, &next, &probe, &paused, &trans, &c.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("circuit: %w", err)
	}
	c.State = hookd.CircuitState(state)
	c.Since, c.NextProbe, c.ProbeUntil, c.PausedUntil = fromOptTS(since), fromOptTS(next), fromOptTS(probe), fromOptTS(paused)
	c.Backoff = time.Duration(backoff)
	var in []storedTransition
	if err := json.Unmarshal([]byte(trans), &in); err != nil {
		return nil, fmt.Errorf("decode circuit transitions: %w", err)
	}
	for _, t := range in {
		c.Transitions = append(c.Transitions, hookd.CircuitTransition{From: t.From, To: t.To, At: fromTS(t.At), Reason: t.Reason})
	}
	return c, nil
}

// SwapCircuit stores c if the stored version is still c.Version.
func (s *Store) SwapCircuit(ctx context.Context, c *hookd.Circuit) (bool, error) {
	trans := make([]storedTransition, len(c.Transitions))
	for i, t := range c.Transitions {
		trans[i] = storedTransition{From: t.From, To: t.To, At: ts(t.At), Reason: t.Reason}
	}
	args := []any{string(c.State), optTS(c.Since), c.Failures, int64(c.Backoff), optTS(c.NextProbe),
		optTS(c.ProbeUntil), optTS(c.PausedUntil), jsonText(trans), c.Version + 1, c.EndpointID, c.AppID}
	var swapped bool
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var n int64
		var err error
		if c.Version == 0 {
			n, err = tx.affected(`INSERT INTO endpoint_circuits (state, since, failures, backoff, next_probe,
				probe_until, paused_until, transitions, version, endpoint_id, app_id)
				SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = ? AND app_id = ?)
				ON CONFLICT (endpoint_id) DO NOTHING`, append(args, c.EndpointID, c.AppID)...)
		} else {
			n, err = tx.affected(`UPDATE endpoint_circuits SET state = ?, since = ?, failures = ?, backoff = ?,
				next_probe = ?, probe_until = ?, paused_until = ?, transitions = ?, version = ?
				WHERE endpoint_id = ? AND app_id = ? AND version = ?`, append(args, c.Version)...)
		}
		if err != nil {
			return false, err
		}
		swapped = n == 1
		if !swapped {
			found, err := tx.exists(`SELECT count(*) FROM endpoints WHERE id = ? AND app_id = ?`, c.EndpointID, c.AppID)
			if err != nil {
				return false, err
			}
			if !found {
				return false, notFound("endpoint")
			}
		}
		return false, nil
	})
	if err != nil {
		return false, wrap("swap circuit", err)
	}
	if swapped {
		c.Version++
	}
	return swapped, nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

// storedTransition is the JSON form of a hookd.CircuitTransition.
type storedTransition struct {
	From   hookd.CircuitState `json:"from"`
	To     hookd.CircuitState `json:"to"`
	At     time.Time          `json:"at"`
	Reason string             `json:"reason"`
}

// optTime stores a zero time as NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Circuit returns the endpoint's circuit, a closed one if none is stored.
func (s *Store) Circuit(ctx context.Context, appID, endpointID string) (*hookd.Circuit, error) {
	c := hookd.NewCircuit(appID, endpointID)
	var since, next, probe, paused *time.Time
	var backoff int64
	var state string
	var trans []byte
	err := s.pool.QueryRow(ctx, `SELECT state, since, failures, backoff, next_probe, probe_until,
		paused_until, transitions, version FROM endpoint_circuits WHERE endpoint_id = $1 AND app_id = $2`,
		endpointID, appID).Scan(&state, &since, &c.Failures, &backoff, &next, &probe, &paused, &trans, &c.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("circuit: %w", err)
	}
	c.State = hookd.CircuitState(state)
	c.Since, c.NextProbe, c.ProbeUntil, c.PausedUntil = fromOptTime(since), fromOptTime(next), fromOptTime(probe), fromOptTime(paused)
	c.Backoff = time.Duration(backoff)
	var in []storedTransition
	if err := json.Unmarshal(trans, &in); err != nil {
		return nil, fmt.Errorf("decode circuit transitions: %w", err)
	}
	for _, t := range in {
		c.Transitions = append(c.Transitions, hookd.CircuitTransition{From: t.From, To: t.To, At: t.At.UTC(), Reason: t.Reason})
	}
	return c, nil
}

// SwapCircuit stores c if the stored version is still c.Version, in one statement:
// of several nodes swapping from the same version, one wins.
func (s *Store) SwapCircuit(ctx context.Context, c *hookd.Circuit) (bool, error) {
	trans := make([]storedTransition, len(c.Transitions))
	for i, t := range c.Transitions {
		trans[i] = storedTransition{From: t.From, To: t.To, At: t.At.UTC(), Reason: t.Reason}
	}
	tj, err := json.Marshal(trans)
	if err != nil {
		return false, fmt.Errorf("encode circuit transitions: %w", err)
	}
	args := []any{c.EndpointID, c.AppID, string(c.State), optTime(c.Since), c.Failures, int64(c.Backoff),
		optTime(c.NextProbe), optTime(c.ProbeUntil), optTime(c.PausedUntil), tj, c.Version + 1}
	var found, swapped bool
	if c.Version == 0 {
		err = s.pool.QueryRow(ctx, `WITH e AS (SELECT id FROM endpoints WHERE id = $1 AND app_id = $2),
			ins AS (INSERT INTO endpoint_circuits (endpoint_id, app_id, state, since, failures, backoff,
				next_probe, probe_until, paused_until, transitions, version)
				SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM e
				ON CONFLICT (endpoint_id) DO NOTHING RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM e), EXISTS (SELECT 1 FROM ins)`, args...).Scan(&found, &swapped)
	} else {
		err = s.pool.QueryRow(ctx, `WITH e AS (SELECT id FROM endpoints WHERE id = $1 AND app_id = $2),
			up AS (UPDATE endpoint_circuits SET state = $3, since = $4, failures = $5, backoff = $6,
				next_probe = $7, probe_until = $8, paused_until = $9, transitions = $10, version = $11
				WHERE endpoint_id = $1 AND app_id = $2 AND version = $12 RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM e), EXISTS (SELECT 1 FROM up)`, append(args, c.Version)...).Scan(&found, &swapped)
	}
	if err != nil {
		return false, storeErr(err, "swap circuit", "")
	}
	if !found {
		return false, hookd.Errorf(hookd.ENOTFOUND, "endpoint not found")
	}
	if swapped {
		c.Version++
	}
	return swapped, nil
}

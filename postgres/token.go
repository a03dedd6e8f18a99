package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const tokenColumns = `id, kind, coalesce(name, ''), hash, read_only, coalesce(app_id, ''), capabilities,
	feature_flags, session_id, created_at, expires_at`

func scanToken(row pgx.Row) (*hookd.Token, error) {
	var (
		t           hookd.Token
		kind        string
		caps, flags []byte
	)
	if err := row.Scan(&t.ID, &kind, &t.Name, &t.Hash, &t.ReadOnly, &t.AppID, &caps, &flags,
		&t.SessionID, &t.CreatedAt, &t.ExpiresAt); err != nil {
		return nil, err
	}
	t.Kind = hookd.TokenKind(kind)
	if err := unmarshalJSON(caps, &t.Capabilities); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(flags, &t.FeatureFlags); err != nil {
		return nil, err
	}
	if len(t.Capabilities) == 0 {
		t.Capabilities = nil
	}
	if len(t.FeatureFlags) == 0 {
		t.FeatureFlags = nil
	}
	return &t, nil
}

// CreateToken inserts t; an admin key name already used is ECONFLICT.
func (s *Store) CreateToken(ctx context.Context, t *hookd.Token) error {
	caps, flags := []byte("[]"), []byte("[]")
	var err error
	if len(t.Capabilities) > 0 {
		if caps, err = marshalJSON(t.Capabilities); err != nil {
			return err
		}
	}
	if len(t.FeatureFlags) > 0 {
		if flags, err = marshalJSON(t.FeatureFlags); err != nil {
			return err
		}
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO tokens (id, kind, name, hash, read_only, app_id, capabilities,
		feature_flags, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.ID, string(t.Kind), nullString(t.Name), t.Hash, t.ReadOnly, nullString(t.AppID), caps, flags,
		t.SessionID, t.CreatedAt, t.ExpiresAt)
	return storeErr(err, "create token", "an API key with this name already exists")
}

// TokenByHash returns the token whose hash is hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*hookd.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, storeErr(err, "token", "")
	}
	return t, nil
}

// Tokens lists the tokens of one kind by ID.
func (s *Store) Tokens(ctx context.Context, kind hookd.TokenKind, page hookd.Page) ([]*hookd.Token, error) {
	var w where
	w.add("kind = ?", string(kind))
	order := w.page("id", page)
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens`+w.String()+order, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// ExpireToken makes the token expire at at unless it expires earlier already.
func (s *Store) ExpireToken(ctx context.Context, id string, at time.Time) error {
	var found bool
	err := s.pool.QueryRow(ctx, `WITH upd AS (
			UPDATE tokens SET expires_at = $2 WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM tokens WHERE id = $1)`, id, at).Scan(&found)
	if err != nil {
		return fmt.Errorf("expire token: %w", err)
	}
	if !found {
		return hookd.Errorf(hookd.ENOTFOUND, "token not found")
	}
	return nil
}

// ExpireAppTokens makes the application's tokens (of sessionIDs, if given) expire at
// at unless they expire earlier already.
func (s *Store) ExpireAppTokens(ctx context.Context, appID string, sessionIDs []string, at time.Time) (int, error) {
	q := `UPDATE tokens SET expires_at = $2 WHERE kind = 'app' AND app_id = $1 AND (expires_at IS NULL OR expires_at > $2)`
	args := []any{appID, at}
	if len(sessionIDs) > 0 {
		q += ` AND session_id = ANY($3)`
		args = append(args, sessionIDs)
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("expire app tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

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

const tokenColumns = `id, kind, name, hash, read_only, app_id, capabilities, feature_flags, session_id, created_at, expires_at`

func scanToken(sc scanner) (*hookd.Token, error) {
	var (
		t           hookd.Token
		kind        string
		name, app   sql.NullString
		caps, flags string
		created     int64
		expires     sql.NullInt64
		readOnly    int
	)
	if err := sc.Scan(&t.ID, &kind, &name, &t.Hash, &readOnly, &app, &caps, &flags, &t.SessionID, &created, &expires); err != nil {
		return nil, err
	}
	t.Kind, t.Name, t.AppID, t.ReadOnly = hookd.TokenKind(kind), name.String, app.String, readOnly != 0
	l, err := parseList(caps)
	if err != nil {
		return nil, err
	}
	for _, c := range l {
		t.Capabilities = append(t.Capabilities, hookd.Capability(c))
	}
	if t.FeatureFlags, err = parseList(flags); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromTS(created), fromTSPtr(expires)
	return &t, nil
}

// CreateToken inserts t; an admin key name already used is ECONFLICT.
func (s *Store) CreateToken(ctx context.Context, t *hookd.Token) error {
	caps := make([]string, len(t.Capabilities))
	for i, c := range t.Capabilities {
		caps[i] = string(c)
	}
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, string(t.Kind), optional(t.Name), t.Hash, boolInt(t.ReadOnly), optional(t.AppID),
			strList(caps), strList(t.FeatureFlags), t.SessionID, ts(t.CreatedAt), tsPtr(t.ExpiresAt))
		return false, err
	})
	if isUnique(err) {
		return hookd.Errorf(hookd.ECONFLICT, "an API key with this name already exists")
	}
	return wrap("create token", err)
}

// TokenByHash returns the token whose hash is hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*hookd.Token, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("token")
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// Tokens lists the tokens of one kind by ID.
func (s *Store) Tokens(ctx context.Context, kind hookd.TokenKind, page hookd.Page) ([]*hookd.Token, error) {
	cond, tail, args := pageSQL("id", page, []any{string(kind)})
	out, err := list(ctx, s, `SELECT `+tokenColumns+` FROM tokens WHERE kind = ?`+cond+tail, args, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// ExpireToken makes the token expire at at unless it expires earlier already.
func (s *Store) ExpireToken(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`UPDATE tokens SET expires_at = ? WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)`,
			ts(at), id, ts(at))
		return false, err
	})
	if err != nil {
		return wrap("expire token", err)
	}
	var one int
	err = s.queryRow(ctx, `SELECT 1 FROM tokens WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("token")
	}
	return wrap("expire token", err)
}

// ExpireAppTokens makes the application's tokens (of sessionIDs, if given) expire at
// at unless they expire earlier already.
func (s *Store) ExpireAppTokens(ctx context.Context, appID string, sessionIDs []string, at time.Time) (int, error) {
	q := `UPDATE tokens SET expires_at = ? WHERE kind = 'app' AND app_id = ? AND (expires_at IS NULL OR expires_at > ?)`
	args := []any{ts(at), appID, ts(at)}
	if len(sessionIDs) > 0 {
		q += ` AND session_id IN (?` + strings.Repeat(`, ?`, len(sessionIDs)-1) + `)`
		for _, id := range sessionIDs {
			args = append(args, id)
		}
	}
	var n int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var err error
		n, err = tx.affected(q, args...)
		return false, err
	})
	return int(n), wrap("expire app tokens", err)
}

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

const endpointColumns = `id, app_id, uid, url, description, filter_types, channels, disabled,
	disabled_at, rate_limit, metadata, headers, secrets, signature_profile, retry_schedule,
	timeout, failing_since, created_at, updated_at, client_cert, client_key, server_ca, oauth, signature_header,
	payload_filter, max_concurrency, fifo, fifo_on_exhausted`

// storedSecret is the JSON form of a hookd.Secret.
type storedSecret struct {
	Key       string `json:"key"`
	ExpiresAt *int64 `json:"expiresAt,omitempty"` // unix microseconds
	NotBefore *int64 `json:"notBefore,omitempty"` // unix microseconds
}

func secretsText(secrets []hookd.Secret) string {
	out := make([]storedSecret, len(secrets))
	for i, s := range secrets {
		out[i].Key = s.Key
		if s.ExpiresAt != nil {
			us := ts(*s.ExpiresAt)
			out[i].ExpiresAt = &us
		}
		if s.NotBefore != nil {
			us := ts(*s.NotBefore)
			out[i].NotBefore = &us
		}
	}
	return jsonText(out)
}

func parseSecrets(s string) ([]hookd.Secret, error) {
	var in []storedSecret
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode secrets: %w", err)
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]hookd.Secret, len(in))
	for i, s := range in {
		out[i].Key = s.Key
		if s.ExpiresAt != nil {
			t := fromTS(*s.ExpiresAt)
			out[i].ExpiresAt = &t
		}
		if s.NotBefore != nil {
			t := fromTS(*s.NotBefore)
			out[i].NotBefore = &t
		}
	}
	return out, nil
}

func scanEndpoint(sc scanner) (*hookd.Endpoint, error) {
	var (
		e                                        hookd.Endpoint
		uid                                      sql.NullString
		filter, channels, meta, headers, secrets string
		disabled                                 int
		disabledAt, failingSince                 sql.NullInt64
		timeout, created, updated                int64
		cert, key, oauth, payloadFilter          string
		fifo                                     int
	)
	if err := sc.Scan(&e.ID, &e.AppID, &uid, &e.URL, &e.Description, &filter, &channels, &disabled,
		&disabledAt, &e.RateLimit, &meta, &headers, &secrets, &e.SignatureProfile, &e.RetrySchedule,
		&timeout, &failingSince, &created, &updated, &cert, &key, &e.ServerCA, &oauth, &e.SignatureHeader, &payloadFilter, &e.MaxConcurrency,
		&fifo, &e.FIFOOnExhausted); err != nil {
		return nil, err
	}
	if cert != "" {
		e.ClientCert = &hookd.ClientCert{CertPEM: cert, KeyPEM: key}
	}
	if oauth != "" {
		e.OAuth = new(hookd.OAuthClient)
		if err := json.Unmarshal([]byte(oauth), e.OAuth); err != nil {
			return nil, fmt.Errorf("decode oauth: %w", err)
		}
	}
	e.UID = fromOptional(uid)
	e.Disabled = disabled != 0
	e.FIFO = fifo != 0
	e.DisabledAt = fromTSPtr(disabledAt)
	e.FailingSince = fromTSPtr(failingSince)
	e.Timeout = time.Duration(timeout)
	e.CreatedAt, e.UpdatedAt = fromTS(created), fromTS(updated)
	var err error
	if e.PayloadFilter, err = parsePayloadFilter(payloadFilter); err != nil {
		return nil, err
	}
	if e.FilterTypes, err = parseList(filter); err != nil {
		return nil, err
	}
	if e.Channels, err = parseList(channels); err != nil {
		return nil, err
	}
	if e.Metadata, err = parseMap(meta); err != nil {
		return nil, err
	}
	if e.Headers, err = parseMap(headers); err != nil {
		return nil, err
	}
	if e.Secrets, err = parseSecrets(secrets); err != nil {
		return nil, err
	}
	return &e, nil
}

// certText and keyText store a client certificate in two columns, "" for none.
func certText(c *hookd.ClientCert) string {
	if c == nil {
		return ""
	}
	return c.CertPEM
}

func keyText(c *hookd.ClientCert) string {
	if c == nil {
		return ""
	}
	return c.KeyPEM
}

// oauthText stores an OAuth configuration as JSON, "" for none.
func oauthText(o *hookd.OAuthClient) string {
	if o == nil {
		return ""
	}
	return jsonText(o)
}

// filterText stores a payload filter as its JSON form, "" for none.
func filterText(f *hookd.PayloadFilter) string {
	if f == nil {
		return ""
	}
	return f.String()
}

// parsePayloadFilter reads a stored payload filter back.
func parsePayloadFilter(s string) (*hookd.PayloadFilter, error) {
	if s == "" {
		return nil, nil
	}
	f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode payload filter: %w", err)
	}
	return f, nil
}

var errEndpointConflict = hookd.Errorf(hookd.ECONFLICT, "an endpoint with this uid already exists")

// CreateEndpoint inserts ep.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookd.Endpoint) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		_, err := tx.exec(`INSERT INTO endpoints (`+endpointColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ep.ID, ep.AppID, optional(ep.UID), ep.URL, ep.Description, strList(ep.FilterTypes),
			strList(ep.Channels), boolInt(ep.Disabled), tsPtr(ep.DisabledAt), ep.RateLimit,
			strMap(ep.Metadata), strMap(ep.Headers), secretsText(ep.Secrets), ep.SignatureProfile,
			ep.RetrySchedule, int64(ep.Timeout), tsPtr(ep.FailingSince), ts(ep.CreatedAt), ts(ep.UpdatedAt),
			certText(ep.ClientCert), keyText(ep.ClientCert), ep.ServerCA, oauthText(ep.OAuth), ep.SignatureHeader,
			filterText(ep.PayloadFilter), ep.MaxConcurrency, boolInt(ep.FIFO), ep.FIFOOnExhausted)
		return false, err
	})
	switch {
	case isUnique(err):
		return errEndpointConflict
	case isForeignKey(err):
		return notFound("application")
	case err != nil:
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// Endpoint returns the endpoint of appID whose ID or UID is idOrUID.
func (s *Store) Endpoint(ctx context.Context, appID, idOrUID string) (*hookd.Endpoint, error) {
	e, err := scanEndpoint(s.queryRow(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE app_id = ?1 AND (id = ?2 OR uid = ?2) ORDER BY id = ?2 DESC LIMIT 1`, appID, idOrUID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("endpoint")
	}
	if err != nil {
		return nil, fmt.Errorf("get endpoint: %w", err)
	}
	return e, nil
}

// UpdateEndpoint replaces every mutable field of ep, FailingSince included.
func (s *Store) UpdateEndpoint(ctx context.Context, ep *hookd.Endpoint) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE endpoints SET uid = ?, url = ?, description = ?, filter_types = ?,
			channels = ?, disabled = ?, disabled_at = ?, rate_limit = ?, metadata = ?, headers = ?,
			secrets = ?, signature_profile = ?, retry_schedule = ?, timeout = ?, failing_since = ?,
			updated_at = ?, client_cert = ?, client_key = ?, server_ca = ?, oauth = ?, signature_header = ?,
			payload_filter = ?, max_concurrency = ?, fifo = ?, fifo_on_exhausted = ? WHERE app_id = ? AND id = ?`,
			optional(ep.UID), ep.URL, ep.Description, strList(ep.FilterTypes), strList(ep.Channels),
			boolInt(ep.Disabled), tsPtr(ep.DisabledAt), ep.RateLimit, strMap(ep.Metadata),
			strMap(ep.Headers), secretsText(ep.Secrets), ep.SignatureProfile, ep.RetrySchedule,
			int64(ep.Timeout), tsPtr(ep.FailingSince), ts(ep.UpdatedAt),
			certText(ep.ClientCert), keyText(ep.ClientCert), ep.ServerCA, oauthText(ep.OAuth), ep.SignatureHeader,
			filterText(ep.PayloadFilter), ep.MaxConcurrency, boolInt(ep.FIFO), ep.FIFOOnExhausted, ep.AppID, ep.ID)
		if err == nil && n == 0 {
			err = notFound("endpoint")
		}
		return false, err
	})
	switch {
	case isUnique(err):
		return errEndpointConflict
	case err != nil && !hookd.IsNotFound(err):
		return fmt.Errorf("update endpoint: %w", err)
	}
	return err
}

// DisableEndpoint disables the endpoint unless it is disabled already.
func (s *Store) DisableEndpoint(ctx context.Context, appID, id string, at time.Time) (bool, error) {
	var disabled bool
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		n, err := tx.affected(`UPDATE endpoints SET disabled = 1, disabled_at = ?, updated_at = ?
			WHERE app_id = ? AND id = ? AND disabled = 0`, ts(at), ts(at), appID, id)
		if err != nil {
			return false, err
		}
		disabled = n == 1
		if !disabled {
			var one int
			if err := tx.queryRow(`SELECT 1 FROM endpoints WHERE app_id = ? AND id = ?`, appID, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return false, notFound("endpoint")
			} else if err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil && !hookd.IsNotFound(err) {
		return false, fmt.Errorf("disable endpoint: %w", err)
	}
	return disabled, err
}

// DeleteEndpoint deletes the endpoint and all its deliveries; its attempts stay in the
// log until the application is deleted.
func (s *Store) DeleteEndpoint(ctx context.Context, appID, id string) error {
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		if _, err := tx.exec(`DELETE FROM deliveries WHERE app_id = ? AND endpoint_id = ?`, appID, id); err != nil {
			return false, err
		}
		n, err := tx.affected(`DELETE FROM endpoints WHERE app_id = ? AND id = ?`, appID, id)
		if err == nil && n == 0 {
			err = notFound("endpoint")
		}
		return false, err
	})
	if err != nil && !hookd.IsNotFound(err) {
		return fmt.Errorf("delete endpoint: %w", err)
	}
	return err
}

// Endpoints lists the application's endpoints by ID.
func (s *Store) Endpoints(ctx context.Context, appID string, page hookd.Page) ([]*hookd.Endpoint, error) {
	cond, tail, args := pageSQL("id", page, []any{appID})
	out, err := list(ctx, s, `SELECT `+endpointColumns+` FROM endpoints WHERE app_id = ?`+cond+tail, args, scanEndpoint)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return out, nil
}

// AllEndpoints returns every endpoint of the application, oldest first.
func (s *Store) AllEndpoints(ctx context.Context, appID string) ([]*hookd.Endpoint, error) {
	out, err := list(ctx, s, `SELECT `+endpointColumns+` FROM endpoints WHERE app_id = ? ORDER BY id`, []any{appID}, scanEndpoint)
	if err != nil {
		return nil, fmt.Errorf("all endpoints: %w", err)
	}
	return out, nil
}

// EndpointStats counts the endpoint's deliveries by status, of the messages in
// [fromID, toID).
func (s *Store) EndpointStats(ctx context.Context, appID, id, fromID, toID string) (hookd.EndpointStats, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM endpoints WHERE app_id = ? AND id = ?`, appID, id).Scan(&n); err != nil {
		return hookd.EndpointStats{}, fmt.Errorf("endpoint stats: %w", err)
	}
	if n == 0 {
		return hookd.EndpointStats{}, notFound("endpoint")
	}
	q, args := `SELECT status, count(*) FROM deliveries WHERE endpoint_id = ? AND app_id = ?`, []any{id, appID}
	if fromID != "" {
		q, args = q+` AND msg_id >= ?`, append(args, fromID)
	}
	if toID != "" {
		q, args = q+` AND msg_id < ?`, append(args, toID)
	}
	st, err := s.countStatuses(ctx, q+` GROUP BY status`, args...)
	if err != nil {
		return st, fmt.Errorf("endpoint stats: %w", err)
	}
	return st, nil
}

func (s *Store) countStatuses(ctx context.Context, query string, args ...any) (hookd.EndpointStats, error) {
	var st hookd.EndpointStats
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var status hookd.Status
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return st, err
		}
		switch status {
		case hookd.StatusSuccess:
			st.Success += n
		case hookd.StatusPending:
			st.Pending += n
		case hookd.StatusFail:
			st.Fail += n
		case hookd.StatusSending:
			st.Sending += n
		}
	}
	return st, rows.Err()
}

// SwapEndpointSecrets sets the endpoint's secret fields to next's if they are still
// prev's as stored.
func (s *Store) SwapEndpointSecrets(ctx context.Context, prev, next *hookd.Endpoint) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx) (bool, error) {
		var err error
		n, err = tx.affected(`UPDATE endpoints SET headers = ?, secrets = ?, client_key = ?, oauth = ?
			WHERE app_id = ? AND id = ? AND headers = ? AND secrets = ? AND client_key = ? AND oauth = ?`,
			strMap(next.Headers), secretsText(next.Secrets), keyText(next.ClientCert), oauthText(next.OAuth),
			prev.AppID, prev.ID, strMap(prev.Headers), secretsText(prev.Secrets),
			keyText(prev.ClientCert), oauthText(prev.OAuth))
		return false, err
	})
	if err != nil {
		return false, fmt.Errorf("swap endpoint secrets: %w", err)
	}
	return n > 0, nil
}

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
)

const endpointColumns = `id, app_id, coalesce(uid, ''), url, description, filter_types, channels, disabled,
	disabled_at, rate_limit, metadata, headers, secrets, signature_profile, retry_schedule, timeout,
	failing_since, created_at, updated_at, client_cert, client_key, server_ca, oauth, signature_header,
	payload_filter, max_concurrency, fifo, fifo_on_exhausted`

// filterText stores a payload filter as its JSON form, "" for none.
func filterText(f *hookd.PayloadFilter) string {
	if f == nil {
		return ""
	}
	return f.String()
}

const endpointUIDTaken = "an endpoint with this uid already exists in the application"

// CreateEndpoint inserts ep; a UID already used in the application is ECONFLICT.
func (s *Store) CreateEndpoint(ctx context.Context, ep *hookd.Endpoint) error {
	args, err := endpointArgs(ep)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO endpoints (id, app_id, uid, url, description, filter_types,
		channels, disabled, disabled_at, rate_limit, metadata, headers, secrets, signature_profile,
		retry_schedule, timeout, failing_since, client_cert, client_key, server_ca, oauth, created_at,
		updated_at, signature_header, payload_filter, max_concurrency, fifo, fifo_on_exhausted) VALUES ($1, $2, $3,
		$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
		$27, $28)`,
		append(args, ep.CreatedAt, ep.UpdatedAt, ep.SignatureHeader, filterText(ep.PayloadFilter), ep.MaxConcurrency,
			ep.FIFO, ep.FIFOOnExhausted)...)
	if isCode(err, codeForeignKeyViolation) {
		return hookd.Errorf(hookd.ENOTFOUND, "application not found")
	}
	return storeErr(err, "create endpoint", endpointUIDTaken)
}

// endpointArgs returns the parameters $1…$21 of an endpoint's insert or update.
func endpointArgs(ep *hookd.Endpoint) ([]any, error) {
	meta, err := marshalJSON(ep.Metadata)
	if err != nil {
		return nil, err
	}
	headers, err := marshalJSON(ep.Headers)
	if err != nil {
		return nil, err
	}
	secrets, err := marshalJSON(ep.Secrets)
	if err != nil {
		return nil, err
	}
	oauth, err := marshalJSON(ep.OAuth)
	if err != nil {
		return nil, err
	}
	var cert, key string
	if ep.ClientCert != nil {
		cert, key = ep.ClientCert.CertPEM, ep.ClientCert.KeyPEM
	}
	return []any{ep.ID, ep.AppID, nullString(ep.UID), ep.URL, ep.Description, ep.FilterTypes,
		ep.Channels, ep.Disabled, ep.DisabledAt, ep.RateLimit, meta, headers, secrets,
		ep.SignatureProfile, ep.RetrySchedule, int64(ep.Timeout), ep.FailingSince,
		cert, key, ep.ServerCA, oauth}, nil
}

// Endpoint returns the endpoint of appID whose ID or UID is idOrUID.
func (s *Store) Endpoint(ctx context.Context, appID, idOrUID string) (*hookd.Endpoint, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE app_id = $1 AND (id = $2 OR uid = $2) ORDER BY id = $2 DESC LIMIT 1`, appID, idOrUID)
	ep, err := scanEndpoint(row)
	if err != nil {
		return nil, storeErr(err, "endpoint", "")
	}
	return ep, nil
}

// UpdateEndpoint replaces the mutable fields of ep.
func (s *Store) UpdateEndpoint(ctx context.Context, ep *hookd.Endpoint) error {
	args, err := endpointArgs(ep)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE endpoints SET uid = $3, url = $4, description = $5,
		filter_types = $6, channels = $7, disabled = $8, disabled_at = $9, rate_limit = $10,
		metadata = $11, headers = $12, secrets = $13, signature_profile = $14, retry_schedule = $15,
		timeout = $16, failing_since = $17, client_cert = $18, client_key = $19, server_ca = $20,
		oauth = $21, updated_at = $22, signature_header = $23, payload_filter = $24, max_concurrency = $25,
		fifo = $26, fifo_on_exhausted = $27
		WHERE id = $1 AND app_id = $2`,
		append(args, ep.UpdatedAt, ep.SignatureHeader, filterText(ep.PayloadFilter), ep.MaxConcurrency,
			ep.FIFO, ep.FIFOOnExhausted)...)
	if err != nil {
		return storeErr(err, "update endpoint", endpointUIDTaken)
	}
	if tag.RowsAffected() == 0 {
		return hookd.Errorf(hookd.ENOTFOUND, "endpoint not found")
	}
	return nil
}

// DisableEndpoint disables the endpoint unless it is disabled already.
func (s *Store) DisableEndpoint(ctx context.Context, appID, id string, at time.Time) (bool, error) {
	var disabled bool
	err := s.pool.QueryRow(ctx, `WITH e AS (SELECT id, disabled FROM endpoints WHERE app_id = $1 AND id = $2),
		u AS (UPDATE endpoints SET disabled = true, disabled_at = $3, updated_at = $3
			WHERE app_id = $1 AND id = $2 AND NOT disabled RETURNING id)
		SELECT EXISTS (SELECT 1 FROM u) FROM e`, appID, id, at).Scan(&disabled)
	if err != nil {
		return false, storeErr(err, "endpoint", "")
	}
	return disabled, nil
}

// DeleteEndpoint deletes the endpoint and its deliveries; its attempts stay in the log
// until the application is deleted.
func (s *Store) DeleteEndpoint(ctx context.Context, appID, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM endpoints WHERE app_id = $1 AND id = $2`, appID, id)
		if err != nil {
			return fmt.Errorf("delete endpoint: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return hookd.Errorf(hookd.ENOTFOUND, "endpoint not found")
		}
		if _, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE app_id = $1 AND endpoint_id = $2`, appID, id); err != nil {
			return fmt.Errorf("delete endpoint deliveries: %w", err)
		}
		return nil
	})
}

// Endpoints lists the application's endpoints by ID.
func (s *Store) Endpoints(ctx context.Context, appID string, page hookd.Page) ([]*hookd.Endpoint, error) {
	var w where
	w.add("app_id = ?", appID)
	order := w.page("id", page)
	return s.queryEndpoints(ctx, `SELECT `+endpointColumns+` FROM endpoints`+w.String()+order, w.args...)
}

// AllEndpoints returns every endpoint of the application, oldest first.
func (s *Store) AllEndpoints(ctx context.Context, appID string) ([]*hookd.Endpoint, error) {
	return s.queryEndpoints(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE app_id = $1 ORDER BY id`, appID)
}

func (s *Store) queryEndpoints(ctx context.Context, sql string, args ...any) ([]*hookd.Endpoint, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	eps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*hookd.Endpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return eps, nil
}

// EndpointStats counts the endpoint's deliveries by status, of the messages in
// [fromID, toID).
func (s *Store) EndpointStats(ctx context.Context, appID, id, fromID, toID string) (hookd.EndpointStats, error) {
	if err := requireEndpoint(ctx, s.pool, appID, id); err != nil {
		if hookd.IsNotFound(err) {
			return hookd.EndpointStats{}, err
		}
		return hookd.EndpointStats{}, fmt.Errorf("endpoint stats: %w", err)
	}
	q, args := `SELECT status, count(*) FROM deliveries WHERE app_id = $1 AND endpoint_id = $2`, []any{appID, id}
	if fromID != "" {
		args = append(args, fromID)
		q += fmt.Sprintf(` AND msg_id >= $%d`, len(args))
	}
	if toID != "" {
		args = append(args, toID)
		q += fmt.Sprintf(` AND msg_id < $%d`, len(args))
	}
	return s.countDeliveries(ctx, q+` GROUP BY status`, args...)
}

// countDeliveries runs a "status, count" query.
func (s *Store) countDeliveries(ctx context.Context, sql string, args ...any) (hookd.EndpointStats, error) {
	var st hookd.EndpointStats
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return st, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status hookd.Status
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return st, fmt.Errorf("count deliveries: %w", err)
		}
		switch status {
		case hookd.StatusSuccess:
			st.Success = n
		case hookd.StatusPending:
			st.Pending = n
		case hookd.StatusFail:
			st.Fail = n
		case hookd.StatusSending:
			st.Sending = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("count deliveries: %w", err)
	}
	return st, nil
}

func scanEndpoint(row pgx.Row) (*hookd.Endpoint, error) {
	var e hookd.Endpoint
	var meta, headers, secrets, oauth []byte
	var timeout int64
	var disabledAt, failingSince *time.Time
	var cert, key, payloadFilter string
	if err := row.Scan(&e.ID, &e.AppID, &e.UID, &e.URL, &e.Description, &e.FilterTypes, &e.Channels,
		&e.Disabled, &disabledAt, &e.RateLimit, &meta, &headers, &secrets, &e.SignatureProfile,
		&e.RetrySchedule, &timeout, &failingSince, &e.CreatedAt, &e.UpdatedAt,
		&cert, &key, &e.ServerCA, &oauth, &e.SignatureHeader, &payloadFilter, &e.MaxConcurrency,
		&e.FIFO, &e.FIFOOnExhausted); err != nil {
		return nil, err
	}
	if payloadFilter != "" {
		f, err := hookd.ParsePayloadFilter("payloadFilter", []byte(payloadFilter))
		if err != nil {
			return nil, fmt.Errorf("decode payload filter: %w", err)
		}
		e.PayloadFilter = f
	}
	if cert != "" {
		e.ClientCert = &hookd.ClientCert{CertPEM: cert, KeyPEM: key}
	}
	if err := unmarshalJSON(oauth, &e.OAuth); err != nil {
		return nil, err
	}
	e.DisabledAt, e.FailingSince = disabledAt, failingSince
	e.Timeout = time.Duration(timeout)
	if err := unmarshalJSON(meta, &e.Metadata); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(headers, &e.Headers); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(secrets, &e.Secrets); err != nil {
		return nil, err
	}
	return &e, nil
}

// SwapEndpointSecrets sets the endpoint's secret fields to next's if they are still
// prev's as stored.
func (s *Store) SwapEndpointSecrets(ctx context.Context, prev, next *hookd.Endpoint) (bool, error) {
	var js [6][]byte
	for i, v := range []any{prev.Headers, prev.Secrets, next.Headers, next.Secrets, prev.OAuth, next.OAuth} {
		b, err := marshalJSON(v)
		if err != nil {
			return false, err
		}
		js[i] = b
	}
	key := func(c *hookd.ClientCert) string {
		if c == nil {
			return ""
		}
		return c.KeyPEM
	}
	tag, err := s.pool.Exec(ctx, `UPDATE endpoints SET headers = $5, secrets = $6, oauth = $8, client_key = $10
		WHERE app_id = $1 AND id = $2 AND headers IS NOT DISTINCT FROM $3 AND secrets IS NOT DISTINCT FROM $4
		AND oauth IS NOT DISTINCT FROM $7 AND client_key = $9`,
		prev.AppID, prev.ID, js[0], js[1], js[2], js[3], js[4], js[5], key(prev.ClientCert), key(next.ClientCert))
	if err != nil {
		return false, fmt.Errorf("swap endpoint secrets: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

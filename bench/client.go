package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient speaks the few Svix API calls the bench needs.
type apiClient struct {
	base  string // e.g. http://127.0.0.1:8071
	auth  string // "Bearer <token>"
	httpc *http.Client
}

func newAPIClient(base, token string, conns int) *apiClient {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &apiClient{
		base:  strings.TrimRight(base, "/"),
		auth:  "Bearer " + token,
		httpc: &http.Client{Transport: tr, Timeout: time.Minute},
	}
}

// apiError is a non-2xx answer.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

// do sends body (already JSON, or nil) and decodes a 2xx answer into out (if non-nil).
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	return c.doKey(ctx, method, path, body, "", out)
}

// doKey is do with an Idempotency-Key header, unless key is empty.
func (c *apiClient) doKey(ctx context.Context, method, path string, body []byte, key string, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{status: resp.StatusCode, body: strings.TrimSpace(string(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

func (c *apiClient) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, path, body, out); err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	return nil
}

type idOut struct {
	ID string `json:"id"`
}

// createEventType creates the bench's event type; an existing one is fine.
func (c *apiClient) createEventType(ctx context.Context, name string) error {
	err := c.post(ctx, "/api/v1/event-type", map[string]any{
		"name": name, "description": "hookd bench event",
	}, nil)
	var ae *apiError
	if err != nil && errors.As(err, &ae) && ae.status == http.StatusConflict {
		return nil
	}
	return err
}

func (c *apiClient) createApp(ctx context.Context, name string) (string, error) {
	var out idOut
	err := c.post(ctx, "/api/v1/app", map[string]any{"name": name}, &out)
	return out.ID, err
}

// createEndpoint creates an endpoint with the given secret, ordered if fifo, and
// returns its ID and the secret the server reports for it (the same, unless the
// server ignored ours).
func (c *apiClient) createEndpoint(ctx context.Context, appID, url, secret string, fifo bool) (id, key string, err error) {
	var out idOut
	in := map[string]any{"url": url, "secret": secret, "description": "hookd bench receiver"}
	if fifo {
		in["fifo"] = true
	}
	if err := c.post(ctx, "/api/v1/app/"+appID+"/endpoint", in, &out); err != nil {
		return "", "", err
	}
	var sec struct {
		Key string `json:"key"`
	}
	path := "/api/v1/app/" + appID + "/endpoint/" + out.ID + "/secret"
	if err := c.do(ctx, http.MethodGet, path, nil, &sec); err != nil {
		return "", "", fmt.Errorf("GET %s: %w", path, err)
	}
	return out.ID, sec.Key, nil
}

// msgPath returns the path messages of appID are posted to. with_content=false keeps
// the answer small; Svix and hookd then omit the payload.
func msgPath(appID string) string {
	return "/api/v1/app/" + appID + "/msg?with_content=false"
}

// sendMessage posts one pre-encoded MessageIn body, with an Idempotency-Key unless
// key is empty (as the Svix SDKs send one with every POST), and returns the message ID.
func (c *apiClient) sendMessage(ctx context.Context, path string, body []byte, key string) (string, error) {
	var out idOut
	if err := c.doKey(ctx, http.MethodPost, path, body, key, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("POST %s: answer has no id", path)
	}
	return out.ID, nil
}

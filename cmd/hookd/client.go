package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultServerURL is where the API commands look for hookd when nothing else says:
// the address `hookd serve` listens on by default.
const defaultServerURL = "http://127.0.0.1:8071"

// connFlags are the connection settings of every command that talks to a hookd server.
type connFlags struct {
	url     string
	token   string
	profile string
	// profileFlag is the name of the flag choosing the saved profile: "profile", or
	// "login-profile" on commands whose --profile is a signature profile.
	profileFlag string
}

func (f *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "hookd server URL (default "+defaultServerURL+", or the saved profile's); env HOOKD_URL")
	fs.StringVar(&f.token, "token", "", "API bearer token (default: the saved profile's); env HOOKD_TOKEN")
	if f.profileFlag == "" {
		f.profileFlag = "profile"
	}
	fs.StringVar(&f.profile, f.profileFlag, "", "connection profile saved by 'hookd login' (default: the current one)")
}

// client resolves the settings: flags (or their HOOKD_ variables) win over the saved
// profile, which wins over the default URL.
func (f *connFlags) client(cmd *cobra.Command) (*apiClient, error) {
	c := &apiClient{base: f.url, token: f.token, http: &http.Client{Timeout: 60 * time.Second}}
	if c.base == "" || c.token == "" {
		cfg, err := loadProfiles()
		if err != nil {
			return nil, withCode(exitError, err)
		}
		name := f.profile
		if name == "" {
			name = cfg.Current
		}
		p, ok := cfg.Profiles[name]
		if !ok && f.profile != "" {
			return nil, withCode(exitUsage, fmt.Errorf("--%s: no profile %q saved (run 'hookd login --profile %s')", f.profileFlag, f.profile, f.profile))
		}
		if c.base == "" {
			c.base = p.URL
		}
		if c.token == "" {
			c.token = p.Token
		}
	}
	if c.base == "" {
		c.base = defaultServerURL
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, withCode(exitUsage, fmt.Errorf("--url: %q is not an http:// or https:// URL", c.base))
	}
	c.base = strings.TrimRight(c.base, "/")
	if c.token == "" {
		return nil, withCode(exitUsage, errors.New("no API token: pass --token, set HOOKD_TOKEN or run 'hookd login'"))
	}
	return c, nil
}

// apiClient is the CLI's own small client of hookd's REST API. It keeps answers as raw
// JSON, so --json prints exactly what the API said, hookd's extension fields included
// (the official SDKs refuse fields they do not know).
type apiClient struct {
	base  string
	token string
	http  *http.Client
	// header is added to every request.
	header http.Header
}

// withHeader returns a copy of c that sends the header with every request.
func (c *apiClient) withHeader(name, value string) *apiClient {
	cc := *c
	cc.header = c.header.Clone()
	if cc.header == nil {
		cc.header = http.Header{}
	}
	cc.header.Set(name, value)
	return &cc
}

// apiError is an answer of 400 or more: the API's code and detail.
type apiError struct {
	Status int
	Code   string
	Detail string
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("API error %d: %s", e.Status, e.Detail)
	}
	return fmt.Sprintf("API error %d %s: %s", e.Status, e.Code, e.Detail)
}

// do sends one request with body as JSON (nil for none) and returns the answer's body.
// An answer of 400 or more is an *apiError (exit 1); a transport failure exits 3.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, withCode(exitError, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hookd-cli/"+version())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, withCode(exitError, fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, withCode(exitError, fmt.Errorf("%s %s: read answer: %w", method, path, err))
	}
	if resp.StatusCode >= 400 {
		return nil, withCode(exitFailure, decodeAPIError(resp.StatusCode, data))
	}
	return data, nil
}

// decodeAPIError reads an error body: {"code", "detail"} or a 422's list of
// {"loc", "msg"}.
func decodeAPIError(status int, data []byte) *apiError {
	e := &apiError{Status: status}
	var plain struct {
		Code   string          `json:"code"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(data, &plain) != nil {
		e.Detail = strings.TrimSpace(string(data))
		if e.Detail == "" {
			e.Detail = http.StatusText(status)
		}
		return e
	}
	e.Code = plain.Code
	var s string
	var items []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	switch {
	case json.Unmarshal(plain.Detail, &s) == nil:
		e.Detail = s
	case json.Unmarshal(plain.Detail, &items) == nil:
		if e.Code == "" {
			e.Code = "validation_error"
		}
		var parts []string
		for _, it := range items {
			loc := make([]string, len(it.Loc))
			for i, l := range it.Loc {
				loc[i] = fmt.Sprint(l)
			}
			parts = append(parts, strings.Join(loc, ".")+": "+it.Msg)
		}
		e.Detail = strings.Join(parts, "; ")
	default:
		e.Detail = string(plain.Detail)
	}
	return e
}

// pathEscape escapes one path segment (an ID, a uid or an event type name).
func pathEscape(s string) string { return url.PathEscape(s) }

package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/api"
)

// call makes one request to the REST API in-process with the session's credential
// and decodes a JSON answer into out (if not nil). An answer of 4xx or 5xx comes back
// as a *hookd.Error with the API's code and message, so the page shows exactly what
// the API said.
func (h *Handler) call(ctx context.Context, s *session, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.cfg.API.ServeHTTP(rec, req)
	if rec.Code >= 400 {
		return apiError(rec)
	}
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// apiError turns an API error answer back into a *hookd.Error.
func apiError(rec *httptest.ResponseRecorder) error {
	var e struct {
		Code   string          `json:"code"`
		Detail json.RawMessage `json:"detail"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	msg := http.StatusText(rec.Code)
	var s string
	var items []struct {
		Loc []string `json:"loc"`
		Msg string   `json:"msg"`
	}
	switch {
	case json.Unmarshal(e.Detail, &s) == nil && s != "":
		msg = s
	case json.Unmarshal(e.Detail, &items) == nil && len(items) > 0:
		var parts []string
		for _, it := range items {
			field := ""
			if len(it.Loc) > 0 {
				field = it.Loc[len(it.Loc)-1] + ": "
			}
			parts = append(parts, field+it.Msg)
		}
		msg = strings.Join(parts, "; ")
	}
	return &hookd.Error{Code: codeForStatus(rec.Code, e.Code), Message: msg}
}

// codeForStatus returns the hookd code of an API answer: its own when it names one
// the API maps to this status, else the first code that maps to it.
func codeForStatus(status int, code string) hookd.Code {
	if c := hookd.Code(code); api.StatusCode(c) == status {
		return c
	}
	for _, c := range []hookd.Code{hookd.EBADREQUEST, hookd.EUNAUTHORIZED, hookd.EFORBIDDEN, hookd.ENOTFOUND,
		hookd.ECONFLICT, hookd.ETOOLARGE, hookd.EINVALID, hookd.ERATELIMITED, hookd.EUNAVAILABLE} {
		if api.StatusCode(c) == status {
			return c
		}
	}
	return hookd.EINTERNAL
}

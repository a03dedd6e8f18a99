package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/hookd/hookd"
)

// statusByCode is the one table from error codes to HTTP statuses.
var statusByCode = map[hookd.Code]int{
	hookd.EBADREQUEST:     http.StatusBadRequest,
	hookd.EUNAUTHORIZED:   http.StatusUnauthorized,
	hookd.EFORBIDDEN:      http.StatusForbidden,
	hookd.ENOTFOUND:       http.StatusNotFound,
	hookd.ECONFLICT:       http.StatusConflict,
	hookd.EIDEMPOTENTBUSY: http.StatusConflict,
	hookd.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	hookd.EINVALID:        http.StatusUnprocessableEntity,
	hookd.ERATELIMITED:    http.StatusTooManyRequests,
	hookd.EINTERNAL:       http.StatusInternalServerError,
	hookd.EUNAVAILABLE:    http.StatusServiceUnavailable,
	hookd.ESTORAGEFULL:    http.StatusInsufficientStorage,
	hookd.EPAYLOADEXPIRED: http.StatusGone,
}

// StatusCode returns the HTTP status for an error code.
func StatusCode(code hookd.Code) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// httpErrorOut is the Svix error body.
type httpErrorOut struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// validationErrorOut is the Svix 422 body (HTTPValidationError).
type validationErrorOut struct {
	Detail []validationItem `json:"detail"`
}

type validationItem struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// validationError is an EINVALID error with Svix's location and type, as the 422 body
// reports them.
type validationError struct {
	loc []string
	typ string
	msg string
	// items, if set, are all the problems, the first being loc, typ and msg.
	items []validationItem
}

func (e *validationError) Error() string { return e.msg }

// invalid returns a 422 error about a field of the request body.
func invalid(field, msg string) error {
	return &hookd.Error{Code: hookd.EINVALID, Field: field, Message: msg,
		Err: &validationError{loc: []string{"body", field}, typ: "value_error", msg: msg}}
}

// invalidQuery returns a 422 error about a query parameter.
func invalidQuery(param, msg string) error {
	return &hookd.Error{Code: hookd.EINVALID, Field: param, Message: msg,
		Err: &validationError{loc: []string{"query", param}, typ: "value_error", msg: msg}}
}

// invalidType returns a 422 error about a body field of the wrong JSON type.
func invalidType(field, msg string) error {
	return &hookd.Error{Code: hookd.EINVALID, Field: field, Message: msg,
		Err: &validationError{loc: []string{"body", field}, typ: "type_error", msg: msg}}
}

// writeError answers with err's status and Svix error body. Internal errors are
// logged with their cause and answered without it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := hookd.ErrorCode(err)
	status := StatusCode(code)
	// A full disk is logged once by the server, not with every refused request.
	if status >= 500 && code != hookd.ESTORAGEFULL {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	if code == hookd.EINVALID {
		item := validationItem{Loc: []string{"body"}, Type: "value_error", Msg: hookd.ErrorMessage(err)}
		var ve *validationError
		if errors.As(err, &ve) && len(ve.items) > 0 {
			writeJSON(w, status, validationErrorOut{Detail: ve.items})
			return
		} else if ve != nil {
			item = validationItem{Loc: ve.loc, Type: ve.typ, Msg: ve.msg}
		} else if e := (*hookd.Error)(nil); errors.As(err, &e) && e.Field != "" {
			item.Loc = []string{"body", e.Field}
		}
		writeJSON(w, status, validationErrorOut{Detail: []validationItem{item}})
		return
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hookd"`)
	}
	writeJSON(w, status, httpErrorOut{Code: string(code), Detail: hookd.ErrorMessage(err)})
}

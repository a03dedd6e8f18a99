package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// The dashboard's actions. Each asks for confirmation on a page of its own (so it
// works without JavaScript), then makes its change through the REST API.

func (h *Handler) actionRoutes() {
	const ep = "/ui/app/{app_id}/endpoint/{endpoint_id}"
	h.handle("POST /ui/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", h.admin(h.resendAction))
	h.handle("POST "+ep+"/recover", h.admin(h.sinceAction("recover", "Recover failed deliveries")))
	h.handle("POST "+ep+"/replay-missing", h.admin(h.sinceAction("replay-missing", "Replay missing messages")))
	h.handle("POST "+ep+"/bulk-replay", h.admin(h.sinceAction("bulk-replay", "Replay messages")))
	h.handle("GET /ui/task/{task_id}", h.admin(h.taskPage))
	h.handle("POST "+ep+"/enable", h.admin(h.enableAction(false)))
	h.handle("POST "+ep+"/disable", h.admin(h.enableAction(true)))
	h.handle("POST "+ep+"/rotate", h.admin(h.rotateAction))
	h.handle("POST "+ep+"/fifo/release", h.admin(h.fifoReleaseAction))
	h.handle("POST /ui/dead-letters/retry", h.admin(h.retryDeadLetters))
}

// confirmation is the page that asks before an action runs: it posts the same form
// again with confirm=yes.
type confirmation struct {
	Question string
	Detail   string
	Action   string
	Fields   url.Values
	Back     string
}

// confirmed reports whether the form says yes; otherwise it renders the question on
// page (the dashboard's or the portal's confirmation) with v.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, page string, v *view, question, detail, back string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	fields := url.Values{}
	for k, vs := range r.PostForm {
		if k != "csrf" && k != "confirm" {
			fields[k] = vs
		}
	}
	v.Title, v.Data = "Confirm", confirmation{Question: question, Detail: detail, Action: r.URL.Path, Fields: fields, Back: back}
	h.render(w, r, http.StatusOK, page, v)
	return false
}

// adminConfirmed is confirmed on the dashboard.
func (h *Handler) adminConfirmed(w http.ResponseWriter, r *http.Request, s *session, question, detail, back string) bool {
	return h.confirmed(w, r, "confirm", adminView(s, "", "", nil), question, detail, back)
}

// done redirects to back with a notice.
func done(w http.ResponseWriter, r *http.Request, back, notice string) {
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

// apiPath joins escaped path segments under /api/v1/app/{app_id}.
func apiPath(appID string, segments ...string) string {
	p := "/api/v1/app/" + url.PathEscape(appID)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// backTo returns the form's back value if it is one of this area's pages, else def.
func backTo(r *http.Request, prefix, def string) string {
	if b := r.PostFormValue("back"); strings.HasPrefix(b, prefix) && !strings.ContainsAny(b, "\\\r\n") && !strings.HasPrefix(b, "//") {
		return b
	}
	return def
}

func (h *Handler) resendAction(w http.ResponseWriter, r *http.Request, s *session) error {
	app, msg, ep := r.PathValue("app_id"), r.PathValue("msg_id"), r.PathValue("endpoint_id")
	back := backTo(r, "/ui/", "/ui/app/"+url.PathEscape(app)+"/msg/"+url.PathEscape(msg))
	if !h.adminConfirmed(w, r, s, "Resend message "+msg+" to endpoint "+ep+"?",
		"A new attempt is made at once, outside the retry schedule.", back) {
		return nil
	}
	if err := h.call(r.Context(), s, "POST", apiPath(app, "msg", msg, "endpoint", ep, "resend"), nil, nil); err != nil {
		return err
	}
	done(w, r, back, "Resend queued: the new attempt appears below once made.")
	return nil
}

// sinceAction is recover, replay-missing or bulk-replay: each takes a time window
// and runs as a background task, whose page the action ends on.
func (h *Handler) sinceAction(op, title string) func(http.ResponseWriter, *http.Request, *session) error {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		app, ep := r.PathValue("app_id"), r.PathValue("endpoint_id")
		back := "/ui/app/" + url.PathEscape(app) + "/endpoint/" + url.PathEscape(ep)
		since, err := parseTime("since", r.PostFormValue("since"))
		if err != nil {
			return err
		}
		if since.IsZero() {
			return hookd.Invalid("since", "since is required")
		}
		until, err := parseTime("until", r.PostFormValue("until"))
		if err != nil {
			return err
		}
		body := map[string]any{"since": since}
		window := "since " + since.Format(time.RFC3339)
		if !until.IsZero() {
			body["until"] = until
			window += " until " + until.Format(time.RFC3339)
		}
		var detail string
		switch op {
		case "recover":
			detail = "Every failed delivery to this endpoint of a message accepted in that window is attempted again."
		case "replay-missing":
			detail = "Every message of that window that this endpoint matches but never received is sent to it."
		default:
			detail = "Every message of that window that was sent to this endpoint is sent again"
			if et := strings.TrimSpace(r.PostFormValue("event_type")); et != "" {
				body["eventTypes"] = []string{et}
				detail += ", of event type " + et
			}
			if st, ok := parseStatus(r.PostFormValue("status")); ok {
				body["status"] = int(st)
				detail += ", whose delivery is " + st.String()
			}
			detail += "."
		}
		if !h.adminConfirmed(w, r, s, title+" of "+ep+" "+window+"?", detail, back) {
			return nil
		}
		var task struct {
			ID string `json:"id"`
		}
		if err := h.call(r.Context(), s, "POST", apiPath(app, "endpoint", ep, op), body, &task); err != nil {
			return err
		}
		http.Redirect(w, r, "/ui/task/"+url.PathEscape(task.ID)+"?back="+url.QueryEscape(back), http.StatusSeeOther)
		return nil
	}
}

// taskPage shows a background task's progress, refreshed while it runs.
func (h *Handler) taskPage(w http.ResponseWriter, r *http.Request, s *session) error {
	var t struct {
		ID        string          `json:"id"`
		Status    string          `json:"status"`
		Task      string          `json:"task"`
		UpdatedAt time.Time       `json:"updatedAt"`
		Data      json.RawMessage `json:"data"`
	}
	if err := h.call(r.Context(), s, "GET", "/api/v1/background-task/"+url.PathEscape(r.PathValue("task_id")), nil, &t); err != nil {
		return err
	}
	back := r.URL.Query().Get("back")
	if !strings.HasPrefix(back, "/ui/") || strings.ContainsAny(back, "\\\r\n") {
		back = ""
	}
	h.render(w, r, http.StatusOK, "task", adminView(s, "apps", "Task "+t.ID, struct {
		ID, Status, Task, Data, Back string
		UpdatedAt                    time.Time
		Running                      bool
	}{t.ID, t.Status, t.Task, prettyJSON(t.Data), back, t.UpdatedAt, t.Status == "running"}))
	return nil
}

func (h *Handler) enableAction(disable bool) func(http.ResponseWriter, *http.Request, *session) error {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		app, ep := r.PathValue("app_id"), r.PathValue("endpoint_id")
		back := backTo(r, "/ui/", "/ui/app/"+url.PathEscape(app)+"/endpoint/"+url.PathEscape(ep))
		verb := "Enable"
		detail := "Deliveries resume; messages sent while it was disabled are not sent unless you replay them."
		if disable {
			verb, detail = "Disable", "It receives nothing until enabled again; new messages skip it."
		}
		if !h.adminConfirmed(w, r, s, verb+" endpoint "+ep+"?", detail, back) {
			return nil
		}
		if err := h.call(r.Context(), s, "PATCH", apiPath(app, "endpoint", ep), map[string]any{"disabled": disable}, nil); err != nil {
			return err
		}
		done(w, r, back, "Endpoint "+strings.ToLower(verb)+"d.")
		return nil
	}
}

func (h *Handler) rotateAction(w http.ResponseWriter, r *http.Request, s *session) error {
	app, ep := r.PathValue("app_id"), r.PathValue("endpoint_id")
	back := "/ui/app/" + url.PathEscape(app) + "/endpoint/" + url.PathEscape(ep)
	if !h.adminConfirmed(w, r, s, "Rotate the signing secret of "+ep+"?",
		"A new secret signs from now on; the old one keeps signing alongside it for the rotation grace period.", back) {
		return nil
	}
	if err := h.call(r.Context(), s, "POST", apiPath(app, "endpoint", ep, "secret", "rotate"), map[string]any{}, nil); err != nil {
		return err
	}
	done(w, r, back, "Secret rotated.")
	return nil
}

// retryDeadLetters resends the selected exhausted deliveries, each a value
// "app_id/msg_id/endpoint_id".
func (h *Handler) retryDeadLetters(w http.ResponseWriter, r *http.Request, s *session) error {
	picked := r.PostForm["delivery"]
	back := backTo(r, "/ui/dead-letters", "/ui/dead-letters")
	if len(picked) == 0 {
		return hookd.Invalid("delivery", "select at least one delivery to retry")
	}
	if len(picked) > pageSize {
		return hookd.Invalid("delivery", "retry at most %d deliveries at once", pageSize)
	}
	if !h.adminConfirmed(w, r, s, "Retry "+itoa(len(picked))+" exhausted deliveries?",
		"Each is attempted again at once, with a fresh retry schedule.", back) {
		return nil
	}
	n := 0
	for _, p := range picked {
		parts := strings.Split(p, "/")
		if len(parts) != 3 {
			return hookd.Invalid("delivery", "%q is not app/message/endpoint", p)
		}
		if err := h.call(r.Context(), s, "POST", apiPath(parts[0], "msg", parts[1], "endpoint", parts[2], "resend"), nil, nil); err != nil {
			return err
		}
		n++
	}
	done(w, r, back, itoa(n)+" deliveries queued again.")
	return nil
}

package ui

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

func (h *Handler) dashboardRoutes() {
	h.handle("GET /ui/signin", h.signinPage)
	h.handle("POST /ui/signin", h.signin)
	h.handle("POST /ui/signout", h.admin(h.signout))
	h.handle("GET /ui/{$}", h.admin(h.overviewPage))
	h.handle("GET /ui/app", h.admin(h.appsPage))
	h.handle("GET /ui/app/{app_id}", h.admin(h.appPage))
	h.handle("GET /ui/app/{app_id}/endpoint/{endpoint_id}", h.admin(h.endpointPage))
	h.handle("GET /ui/app/{app_id}/msg", h.admin(h.messagesPage))
	h.handle("GET /ui/app/{app_id}/msg/{msg_id}", h.admin(h.messagePage))
	h.handle("GET /ui/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", h.admin(h.attemptPage))
	h.handle("GET /ui/dead-letters", h.admin(h.deadLettersPage))
	h.handle("GET /ui/event-types", h.admin(h.eventTypesPage))
	h.handle("GET /ui/search", h.admin(h.searchPage))
	h.actionRoutes()
}

// admin wraps a dashboard handler: it needs a session (a GET without one goes to the
// sign-in page), and a POST needs the session's CSRF token and a key that may write.
func (h *Handler) admin(fn func(w http.ResponseWriter, r *http.Request, s *session) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := h.session(r, dashboardCookie)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return nil
			}
			return hookd.Errorf(hookd.EUNAUTHORIZED, "sign in first")
		}
		if r.Method == http.MethodPost {
			if err := checkCSRF(r, s.CSRF); err != nil {
				return err
			}
			if s.principal.ReadOnly && r.URL.Path != "/ui/signout" {
				return hookd.Errorf(hookd.EFORBIDDEN, "this API key is read-only: it may look but not change anything")
			}
		}
		return fn(w, r, s)
	}
}

// adminView starts the view of a dashboard page.
func adminView(s *session, nav, title string, data any) *view {
	return &view{Title: title, Nav: nav, CSRF: s.CSRF, ReadOnly: s.principal.ReadOnly, Data: data}
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.session(r, dashboardCookie); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	h.renderSignin(w, r, http.StatusOK, "")
	return nil
}

// renderSignin shows the sign-in form with a fresh CSRF token, kept in a cookie of
// its own until there is a session.
func (h *Handler) renderSignin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := h.newSigninCSRF(w, r, "/ui/signin", false)
	h.render(w, r, status, "signin", &view{Title: "Sign in", CSRF: token, Error: msg,
		Data: safeNext(r.FormValue("next"))})
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) error {
	if err := checkSigninCSRF(r); err != nil {
		return err
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	p, err := h.cfg.AuthenticateFunc(r.Context(), key)
	if key == "" || err != nil || p.AppID != "" {
		h.renderSignin(w, r, http.StatusUnauthorized, "That is not a valid admin API key.")
		return nil
	}
	s := &session{Token: key, CSRF: randomToken(), Expires: h.now().Add(h.cfg.SessionTTL).Unix()}
	if err := h.startSession(w, r, dashboardCookie, "/ui", s); err != nil {
		return err
	}
	setCookie(w, r, signinCookie, "", "/ui/signin", time.Time{}, false)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, _ *session) error {
	setCookie(w, r, dashboardCookie, "", "/ui", time.Time{}, false)
	http.Redirect(w, r, "/ui/signin?notice="+url.QueryEscape("Signed out."), http.StatusSeeOther)
	return nil
}

// safeNext keeps a post-sign-in redirect on the dashboard.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "/ui/signin") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/"
}

func (h *Handler) appsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	it := r.URL.Query().Get("iterator")
	apps, err := h.cfg.Store.Apps(r.Context(), hookd.Page{Limit: pageSize, Iterator: it})
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "apps", adminView(s, "apps", "Applications", struct {
		Apps []*hookd.Application
		Next string
	}{apps, nextIterator(apps, pageSize, func(a *hookd.Application) string { return a.ID })}))
	return nil
}

// nextIterator returns the iterator of the page after items, or "" on the last page.
func nextIterator[T any](items []T, limit int, id func(T) string) string {
	if len(items) < limit || len(items) == 0 {
		return ""
	}
	return id(items[len(items)-1])
}

// endpointHealth is an endpoint with what its recent attempts say.
type endpointHealth struct {
	*hookd.Endpoint
	// Recent counts the last attempts read, Succeeded those of them that succeeded.
	Recent, Succeeded int
	Last              *hookd.Attempt
}

// recentAttempts is how many of an endpoint's last attempts its health is computed
// from: an indexed read of a few rows, whatever the size of the log.
const recentAttempts = 50

// SuccessRate is the share of recent attempts that succeeded.
func (e endpointHealth) SuccessRate() float64 {
	if e.Recent == 0 {
		return 0
	}
	return float64(e.Succeeded) / float64(e.Recent)
}

func (h *Handler) health(r *http.Request, e *hookd.Endpoint) (endpointHealth, error) {
	as, err := h.cfg.Store.AttemptsByEndpoint(r.Context(), e.AppID, e.ID, hookd.AttemptFilter{}, hookd.Page{Limit: recentAttempts})
	if err != nil {
		return endpointHealth{}, err
	}
	eh := endpointHealth{Endpoint: e, Recent: len(as)}
	for _, a := range as {
		if a.Status == hookd.StatusSuccess {
			eh.Succeeded++
		}
	}
	if len(as) > 0 {
		eh.Last = as[0]
	}
	return eh, nil
}

// endpointsWithHealth reads a page of the application's endpoints (the request's
// iterator) with their health, and the next page's iterator.
func (h *Handler) endpointsWithHealth(r *http.Request, appID string) ([]endpointHealth, string, error) {
	eps, err := h.cfg.Store.Endpoints(r.Context(), appID, hookd.Page{Limit: pageSize, Iterator: r.URL.Query().Get("iterator")})
	if err != nil {
		return nil, "", err
	}
	health := make([]endpointHealth, 0, len(eps))
	for _, e := range eps {
		eh, err := h.health(r, e)
		if err != nil {
			return nil, "", err
		}
		health = append(health, eh)
	}
	return health, nextIterator(eps, pageSize, func(e *hookd.Endpoint) string { return e.ID }), nil
}

func (h *Handler) appPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	app, err := h.cfg.Store.App(ctx, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	health, next, err := h.endpointsWithHealth(r, app.ID)
	if err != nil {
		return err
	}
	msgs, err := h.cfg.Store.Messages(ctx, app.ID, hookd.MessageFilter{}, hookd.Page{Limit: 10})
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "app", adminView(s, "apps", app.Name, struct {
		App       *hookd.Application
		Endpoints []endpointHealth
		Next      string
		Messages  []*hookd.Message
	}{app, health, next, msgs}))
	return nil
}

func (h *Handler) endpointPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	app, err := h.cfg.Store.App(ctx, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	e, err := h.cfg.Store.Endpoint(ctx, app.ID, r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	eh, err := h.health(r, e)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var filter hookd.AttemptFilter
	if st, ok := parseStatus(q.Get("status")); ok {
		filter.Status = &st
	}
	attempts, err := h.cfg.Store.AttemptsByEndpoint(ctx, app.ID, e.ID, filter, hookd.Page{Limit: pageSize, Iterator: q.Get("iterator")})
	if err != nil {
		return err
	}
	c, err := h.cfg.Store.Circuit(ctx, app.ID, e.ID)
	if err != nil {
		return err
	}
	base := "/ui/app/" + url.PathEscape(app.ID)
	fifo, err := h.fifo(r, e, s, base+"/endpoint/"+url.PathEscape(e.ID)+"/fifo/release", base+"/msg")
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "endpoint", adminView(s, "apps", "Endpoint "+e.ID, struct {
		App      *hookd.Application
		Endpoint endpointHealth
		Circuit  circuitView
		FIFO     *fifoView
		Attempts []*hookd.Attempt
		Status   string
		Next     string
		Since    string
	}{app, eh, newCircuitView(c, h.now()), fifo, attempts, q.Get("status"), nextIterator(attempts, pageSize, func(a *hookd.Attempt) string { return a.ID }),
		h.now().Add(-24 * time.Hour).Format(dateTimeLocal)}))
	return nil
}

// dateTimeLocal is the format of an <input type="datetime-local">, read as UTC.
const dateTimeLocal = "2006-01-02T15:04"

// parseTime reads a datetime-local or RFC 3339 value; "" is the zero time.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{dateTimeLocal, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, hookd.Invalid(field, "%s: %q is not a time like 2025-01-31T14:05 (UTC)", field, v)
}

func parseStatus(v string) (hookd.Status, bool) {
	for _, st := range []hookd.Status{hookd.StatusSuccess, hookd.StatusPending, hookd.StatusFail, hookd.StatusSending} {
		if v == st.String() {
			return st, true
		}
	}
	return 0, false
}

// searchRedirect sends the overview's quick search to the application's search.
func (h *Handler) searchRedirect(w http.ResponseWriter, r *http.Request, _ *session) error {
	q := r.URL.Query()
	app, err := h.cfg.Store.App(r.Context(), strings.TrimSpace(q.Get("app")))
	if err != nil {
		return err
	}
	v := url.Values{}
	if id := strings.TrimSpace(q.Get("event_id")); id != "" {
		v.Set("event_id", id)
	}
	http.Redirect(w, r, "/ui/app/"+url.PathEscape(app.ID)+"/msg?"+v.Encode(), http.StatusSeeOther)
	return nil
}

// messageSearch is the search form, as given.
type messageSearch struct {
	EventType, EventID, Tag, Channel, After, Before, Status, Endpoint, Iterator string
}

// messageRow is one search result; Delivery is set when the search was by status.
type messageRow struct {
	*hookd.Message
	Delivery *hookd.Delivery
}

func (h *Handler) messagesPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	app, err := h.cfg.Store.App(ctx, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	// Each search reads an index in ID order (hookd.SearchStore), so the page answers
	// in bounded time whatever the size of the store: no time budget is needed.
	rows, next, form, err := h.searchMessages(r, app.ID)
	v := adminView(s, "apps", "Messages of "+app.Name, nil)
	switch {
	case err == nil:
	case hookd.ErrorCode(err) == hookd.EINVALID:
		v.Error = hookd.ErrorMessage(err)
	default:
		return err
	}
	eps, err := h.cfg.Store.Endpoints(ctx, app.ID, hookd.Page{Limit: 250, Ascending: true})
	if err != nil {
		return err
	}
	v.Data = struct {
		App       *hookd.Application
		Form      messageSearch
		Rows      []messageRow
		Next      string
		Endpoints []*hookd.Endpoint
		Statuses  []string
	}{app, form, rows, next, eps, []string{"success", "pending", "sending", "fail"}}
	h.render(w, r, http.StatusOK, "messages", v)
	return nil
}

// searchMessages runs the search the query asks for through the store's operator
// search (the API's GET /api/v1/search/msg), scoped to the application; with an
// endpoint, through the endpoint's deliveries, read by its (endpoint_id, msg_id) index.
func (h *Handler) searchMessages(r *http.Request, appID string) ([]messageRow, string, messageSearch, error) {
	ctx := r.Context()
	q := r.URL.Query()
	f := messageSearch{EventType: q.Get("event_type"), EventID: strings.TrimSpace(q.Get("event_id")), Tag: q.Get("tag"),
		Channel: q.Get("channel"), After: q.Get("after"), Before: q.Get("before"), Status: q.Get("status"),
		Endpoint: q.Get("endpoint"), Iterator: q.Get("iterator")}
	if f.EventID != "" {
		// A message ID or an eventId names one message: one lookup.
		m, err := h.cfg.Store.Message(ctx, appID, f.EventID)
		if hookd.IsNotFound(err) {
			return nil, "", f, nil
		}
		if err != nil {
			return nil, "", f, err
		}
		return []messageRow{{Message: m}}, "", f, nil
	}
	after, err := parseTime("after", f.After)
	if err != nil {
		return nil, "", f, err
	}
	before, err := parseTime("before", f.Before)
	if err != nil {
		return nil, "", f, err
	}
	var types []string
	if f.EventType != "" {
		types = []string{f.EventType}
	}
	var status *hookd.Status
	if f.Status != "" {
		st, ok := parseStatus(f.Status)
		if !ok {
			return nil, "", f, hookd.Invalid("status", "status must be success, pending, sending or fail")
		}
		status = &st
	}
	page := hookd.Page{Limit: pageSize, Iterator: f.Iterator}
	if f.Endpoint != "" {
		if f.Tag != "" {
			return nil, "", f, hookd.Invalid("endpoint", "searching one endpoint's deliveries filters by event type, channel, status and time: leave tag empty, or choose any endpoint")
		}
		filter := hookd.DeliveryFilter{EventTypes: types, Channel: f.Channel, After: after, Before: before, Status: status}
		ds, err := h.cfg.Store.EndpointDeliveries(ctx, appID, f.Endpoint, filter, page)
		if err != nil {
			return nil, "", f, err
		}
		rows := make([]messageRow, 0, len(ds))
		for _, d := range ds {
			rows = append(rows, messageRow{Message: d.Message, Delivery: d})
		}
		return rows, nextIterator(ds, pageSize, func(d *hookd.Delivery) string { return d.MsgID }), f, nil
	}
	msgs, err := h.cfg.Store.SearchMessages(ctx, hookd.MessageSearch{AppID: appID, EventTypes: types,
		Tag: f.Tag, Channel: f.Channel, Status: status, After: after, Before: before}, page)
	if err != nil {
		return nil, "", f, err
	}
	rows := make([]messageRow, 0, len(msgs))
	for _, m := range msgs {
		rows = append(rows, messageRow{Message: m})
	}
	return rows, nextIterator(msgs, pageSize, func(m *hookd.Message) string { return m.ID }), f, nil
}

// destination is one delivery of a message with its endpoint (nil once deleted).
type destination struct {
	*hookd.Delivery
	Endpoint *hookd.Endpoint
}

// messageDetail is what the message pages of the dashboard and the portal show.
type messageDetail struct {
	App          *hookd.Application
	Message      *hookd.Message
	Destinations []destination
	Attempts     []*hookd.Attempt
}

func (h *Handler) messageDetail(r *http.Request, appID, msgID string) (*messageDetail, error) {
	ctx := r.Context()
	app, err := h.cfg.Store.App(ctx, appID)
	if err != nil {
		return nil, err
	}
	m, err := h.cfg.Store.Message(ctx, app.ID, msgID)
	if err != nil {
		return nil, err
	}
	ds, err := h.cfg.Store.MessageDeliveries(ctx, app.ID, m.ID, hookd.Page{Limit: pageSize, Ascending: true})
	if err != nil {
		return nil, err
	}
	md := &messageDetail{App: app, Message: m}
	for _, d := range ds {
		e, err := h.cfg.Store.Endpoint(ctx, app.ID, d.EndpointID)
		if err != nil && !hookd.IsNotFound(err) {
			return nil, err
		}
		md.Destinations = append(md.Destinations, destination{Delivery: d, Endpoint: e})
	}
	if md.Attempts, err = h.cfg.Store.AttemptsByMessage(ctx, app.ID, m.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 100}); err != nil {
		return nil, err
	}
	return md, nil
}

func (h *Handler) messagePage(w http.ResponseWriter, r *http.Request, s *session) error {
	md, err := h.messageDetail(r, r.PathValue("app_id"), r.PathValue("msg_id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "message", adminView(s, "apps", "Message "+md.Message.ID, md))
	return nil
}

// attemptDetail is one attempt with the message it carried.
type attemptDetail struct {
	App      *hookd.Application
	Message  *hookd.Message
	Attempt  *hookd.Attempt
	Endpoint *hookd.Endpoint
}

func (h *Handler) attemptDetail(r *http.Request, appID string) (*attemptDetail, error) {
	ctx := r.Context()
	app, err := h.cfg.Store.App(ctx, appID)
	if err != nil {
		return nil, err
	}
	m, err := h.cfg.Store.Message(ctx, app.ID, r.PathValue("msg_id"))
	if err != nil {
		return nil, err
	}
	a, err := h.cfg.Store.Attempt(ctx, app.ID, m.ID, r.PathValue("attempt_id"))
	if err != nil {
		return nil, err
	}
	e, err := h.cfg.Store.Endpoint(ctx, app.ID, a.EndpointID)
	if err != nil && !hookd.IsNotFound(err) {
		return nil, err
	}
	return &attemptDetail{App: app, Message: m, Attempt: a, Endpoint: e}, nil
}

func (h *Handler) attemptPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ad, err := h.attemptDetail(r, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "attempt", adminView(s, "apps", "Attempt "+ad.Attempt.ID, ad))
	return nil
}

func (h *Handler) deadLettersPage(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	filter := hookd.DeadLetterFilter{AppID: strings.TrimSpace(q.Get("app")), EndpointID: strings.TrimSpace(q.Get("endpoint")),
		EventType: strings.TrimSpace(q.Get("event_type"))}
	if filter.AppID != "" {
		app, err := h.cfg.Store.App(r.Context(), filter.AppID)
		if err != nil {
			return err
		}
		filter.AppID = app.ID
	}
	ds, err := h.cfg.Store.FailedDeliveries(r.Context(), filter, hookd.Page{Limit: pageSize, Iterator: q.Get("iterator")})
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "deadletters", adminView(s, "dead", "Dead letters", struct {
		Filter     hookd.DeadLetterFilter
		Deliveries []*hookd.Delivery
		Next       string
	}{filter, ds, nextIterator(ds, pageSize, func(d *hookd.Delivery) string { return d.ID })}))
	return nil
}

func (h *Handler) eventTypesPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ets, next, err := h.eventTypes(r)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "eventtypes", adminView(s, "types", "Event types", struct {
		EventTypes []eventTypeView
		Next       string
	}{ets, next}))
	return nil
}

// circuitView is an endpoint's circuit breaker as its page shows it.
type circuitView struct {
	*hookd.Circuit
	Paused bool // a Retry-After pauses the endpoint now
	// Transitions are the circuit's latest changes, newest first.
	Transitions []hookd.CircuitTransition
}

func newCircuitView(c *hookd.Circuit, now time.Time) circuitView {
	v := circuitView{Circuit: c, Paused: now.Before(c.PausedUntil)}
	for i := len(c.Transitions) - 1; i >= 0; i-- {
		v.Transitions = append(v.Transitions, c.Transitions[i])
	}
	return v
}

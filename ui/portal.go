package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// The customer portal: one application's endpoints, secrets, event types and delivery
// log, opened with an application-scoped token. Every page's path names the
// application, and a session reaches only its own: another application's pages
// answer 403, as the API answers that token.

func (h *Handler) portalRoutes() {
	const app = "/portal/app/{app_id}"
	const ep = app + "/endpoint/{endpoint_id}"
	h.handle("GET /portal", h.portalLogin)
	h.handle("GET /portal/{$}", h.portalLogin)
	h.handle("POST /portal/session", h.portalSession)
	h.handle("GET /portal/brand.css", h.brandCSS)
	h.handle("GET "+app+"/{$}", h.portal(h.portalHome))
	h.handle("GET "+app+"/event-types", h.portal(h.portalEventTypes))
	h.handle("GET "+app+"/endpoint/new", h.portal(h.portalNewEndpoint))
	h.handle("POST "+app+"/endpoint", h.portal(h.portalCreateEndpoint))
	h.handle("GET "+ep, h.portal(h.portalEndpoint))
	h.handle("POST "+ep+"/edit", h.portal(h.portalEditEndpoint))
	h.handle("POST "+ep+"/delete", h.portal(h.portalDeleteEndpoint))
	h.handle("POST "+ep+"/enable", h.portal(h.portalEnable(false)))
	h.handle("POST "+ep+"/disable", h.portal(h.portalEnable(true)))
	h.handle("POST "+ep+"/rotate", h.portal(h.portalRotate))
	h.handle("POST "+ep+"/send-test", h.portal(h.portalSendTest))
	h.handle("POST "+ep+"/fifo/release", h.portal(h.portalFIFORelease))
	h.handle("GET "+app+"/msg/{msg_id}", h.portal(h.portalMessage))
	h.handle("GET "+app+"/msg/{msg_id}/attempt/{attempt_id}", h.portal(h.portalAttempt))
	h.handle("POST "+app+"/msg/{msg_id}/endpoint/{endpoint_id}/resend", h.portal(h.portalResend))
	h.handle("POST /portal/signout", h.portalSignout)
}

// portal wraps a portal handler: it needs a portal session for the path's
// application, and a POST needs the session's CSRF token.
func (h *Handler) portal(fn func(w http.ResponseWriter, r *http.Request, s *session) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := h.session(r, portalCookie)
		if err != nil {
			return hookd.Errorf(hookd.EUNAUTHORIZED, "your portal session has ended: open the portal again from the link you were given")
		}
		if r.PathValue("app_id") != s.AppID {
			return errForbidden
		}
		if r.Method == http.MethodPost {
			if err := checkCSRF(r, s.CSRF); err != nil {
				return err
			}
			if s.principal.ReadOnly {
				return hookd.Errorf(hookd.EFORBIDDEN, "this portal link is read-only")
			}
		}
		return fn(w, r, s)
	}
}

// portalView starts the view of a portal page.
func (h *Handler) portalView(s *session, nav, title string, data any) *view {
	return &view{Title: title, Nav: nav, CSRF: s.CSRF, ReadOnly: s.principal.ReadOnly, Brand: h.cfg.Brand,
		AppID: s.AppID, Data: data}
}

// portalBase is the path of the session's application in the portal.
func portalBase(s *session) string { return "/portal/app/" + url.PathEscape(s.AppID) }

// portalLogin is where the app-portal-access URL lands (/portal#key=…): the token
// is in the fragment, which the browser never sends; the page's script moves it into
// the sign-in form, drops it from the address bar and submits. Without scripts the
// form takes the token pasted by hand.
func (h *Handler) portalLogin(w http.ResponseWriter, r *http.Request) error {
	if s, err := h.session(r, portalCookie); err == nil {
		http.Redirect(w, r, portalBase(s)+"/", http.StatusSeeOther)
		return nil
	}
	h.renderPortalLogin(w, r, http.StatusOK, "")
	return nil
}

func (h *Handler) renderPortalLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := h.newSigninCSRF(w, r, "/portal/session", len(h.cfg.FrameAncestors) > 0)
	h.render(w, r, status, "portal_login", &view{Title: "Sign in", CSRF: token, Error: msg, Brand: h.cfg.Brand})
}

// portalSession exchanges an application-scoped token for a session cookie.
func (h *Handler) portalSession(w http.ResponseWriter, r *http.Request) error {
	if err := checkSigninCSRF(r); err != nil {
		return err
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	p, err := h.cfg.AuthenticateFunc(r.Context(), token)
	if token == "" || err != nil || p.AppID == "" {
		h.renderPortalLogin(w, r, http.StatusUnauthorized, "This portal link is not valid or has expired: ask for a new one.")
		return nil
	}
	s := &session{Token: token, AppID: p.AppID, CSRF: randomToken(), Expires: h.now().Add(h.cfg.SessionTTL).Unix()}
	if err := h.startSession(w, r, portalCookie, "/portal", s); err != nil {
		return err
	}
	http.Redirect(w, r, portalBase(s)+"/", http.StatusSeeOther)
	return nil
}

func (h *Handler) portalSignout(w http.ResponseWriter, r *http.Request) error {
	s, err := h.session(r, portalCookie)
	if err != nil {
		http.Redirect(w, r, "/portal", http.StatusSeeOther)
		return nil
	}
	if err := checkCSRF(r, s.CSRF); err != nil {
		return err
	}
	setCookie(w, r, portalCookie, "", "/portal", time.Time{}, len(h.cfg.FrameAncestors) > 0)
	http.Redirect(w, r, "/portal", http.StatusSeeOther)
	return nil
}

// brandCSS sets the portal's accent colour; a stylesheet of its own, since the
// Content-Security-Policy allows no inline style.
func (h *Handler) brandCSS(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if c := h.cfg.Brand.Color; c != "" {
		fmt.Fprintf(w, ":root { --accent: %s; }\n", c) // validated: #rgb or #rrggbb
	}
	return nil
}

func (h *Handler) portalHome(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	app, err := h.cfg.Store.App(ctx, s.AppID)
	if err != nil {
		return err
	}
	health, next, err := h.endpointsWithHealth(r, app.ID)
	if err != nil {
		return err
	}
	// The addresses deliveries come from, as the API publishes them.
	var egress struct {
		EgressIPs []string `json:"egressIps"`
	}
	if err := h.call(ctx, s, "GET", "/api/v1/egress-ips", nil, &egress); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "portal_home", h.portalView(s, "endpoints", "Endpoints", struct {
		App       *hookd.Application
		Endpoints []endpointHealth
		Next      string
		EgressIPs []string
	}{app, health, next, egress.EgressIPs}))
	return nil
}

func (h *Handler) portalEventTypes(w http.ResponseWriter, r *http.Request, s *session) error {
	ets, next, err := h.eventTypes(r)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "portal_eventtypes", h.portalView(s, "types", "Event types", struct {
		EventTypes []eventTypeView
		Next       string
	}{ets, next}))
	return nil
}

// endpointForm is the add and edit form of an endpoint.
type endpointForm struct {
	CSRF        string
	Action      string
	URL         string
	Description string
	Types       []string
	EventTypes  []eventTypeView
	// PayloadFilter is the endpoint's payload filter as JSON, "" for none.
	PayloadFilter string
	Submit        string
}

func (h *Handler) portalNewEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	ets, _, err := h.eventTypes(r)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "portal_endpoint_new", h.portalView(s, "endpoints", "Add an endpoint",
		endpointForm{CSRF: s.CSRF, Action: portalBase(s) + "/endpoint", EventTypes: ets, Submit: "Add endpoint"}))
	return nil
}

// filterText is a payload filter's JSON, "" for none.
func filterText(f *hookd.PayloadFilter) string {
	if f == nil {
		return ""
	}
	return f.String()
}

// endpointBody is the API body of an endpoint form: the API validates it.
func endpointBody(r *http.Request) map[string]any {
	types := r.PostForm["eventTypes"]
	if types == nil {
		types = []string{}
	}
	// An empty filter removes it; text that is not JSON goes as a string, which the API
	// refuses saying what a filter is.
	var filter any
	if f := strings.TrimSpace(r.PostFormValue("payloadFilter")); f != "" {
		filter = f
		if json.Valid([]byte(f)) {
			filter = json.RawMessage(f)
		}
	}
	return map[string]any{"url": strings.TrimSpace(r.PostFormValue("url")),
		"description": r.PostFormValue("description"), "filterTypes": types, "payloadFilter": filter}
}

func (h *Handler) portalCreateEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	var out struct {
		ID string `json:"id"`
	}
	if err := h.call(r.Context(), s, "POST", apiPath(s.AppID, "endpoint"), endpointBody(r), &out); err != nil {
		return h.refill(w, r, s, err, endpointForm{CSRF: s.CSRF, Action: portalBase(s) + "/endpoint", Submit: "Add endpoint"})
	}
	done(w, r, portalBase(s)+"/endpoint/"+url.PathEscape(out.ID), "Endpoint added.")
	return nil
}

// refill shows a refused endpoint form again, with what was typed and why the API
// refused it.
func (h *Handler) refill(w http.ResponseWriter, r *http.Request, s *session, err error, f endpointForm) error {
	if c := hookd.ErrorCode(err); c != hookd.EINVALID && c != hookd.EBADREQUEST && c != hookd.ECONFLICT {
		return err
	}
	ets, _, lerr := h.eventTypes(r)
	if lerr != nil {
		return lerr
	}
	f.URL, f.Description, f.Types, f.EventTypes = r.PostFormValue("url"), r.PostFormValue("description"), r.PostForm["eventTypes"], ets
	f.PayloadFilter = r.PostFormValue("payloadFilter")
	v := h.portalView(s, "endpoints", "Add an endpoint", f)
	v.Error = hookd.ErrorMessage(err)
	h.render(w, r, http.StatusUnprocessableEntity, "portal_endpoint_new", v)
	return nil
}

func (h *Handler) portalEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	e, err := h.cfg.Store.Endpoint(ctx, s.AppID, r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	eh, err := h.health(r, e)
	if err != nil {
		return err
	}
	ets, _, err := h.eventTypes(r)
	if err != nil {
		return err
	}
	// The delivery log: the endpoint's deliveries, newest message first.
	ds, err := h.cfg.Store.EndpointDeliveries(ctx, s.AppID, e.ID, hookd.DeliveryFilter{},
		hookd.Page{Limit: pageSize, Iterator: r.URL.Query().Get("iterator")})
	if err != nil {
		return err
	}
	v := h.portalView(s, "endpoints", "Endpoint", nil)
	// The secret as the API hands it out: for Ed25519 endpoints the public key only;
	// for one-signature profiles after a rotation, the next key and when it takes over.
	var secret struct {
		Key      string     `json:"key"`
		NextKey  string     `json:"nextKey"`
		SwitchAt *time.Time `json:"switchAt"`
	}
	if r.URL.Query().Get("reveal") == "1" {
		if err := h.call(ctx, s, "GET", apiPath(s.AppID, "endpoint", e.ID, "secret"), nil, &secret); err != nil {
			v.Error = hookd.ErrorMessage(err)
		}
	}
	base := portalBase(s) + "/endpoint/" + url.PathEscape(e.ID)
	fifo, err := h.fifo(r, e, s, base+"/fifo/release", portalBase(s)+"/msg")
	if err != nil {
		return err
	}
	v.Data = struct {
		Endpoint   endpointHealth
		FIFO       *fifoView
		Secret     string
		NextSecret string
		SwitchAt   *time.Time
		Form       endpointForm
		Deliveries []*hookd.Delivery
		Next       string
		Base       string
	}{eh, fifo, secret.Key, secret.NextKey, secret.SwitchAt, endpointForm{CSRF: s.CSRF, Action: base + "/edit", URL: e.URL, Description: e.Description, Types: e.FilterTypes,
		EventTypes: ets, PayloadFilter: filterText(e.PayloadFilter), Submit: "Save"}, ds, nextIterator(ds, pageSize, func(d *hookd.Delivery) string { return d.MsgID }), base}
	h.render(w, r, http.StatusOK, "portal_endpoint", v)
	return nil
}

func (h *Handler) portalEditEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	ep := r.PathValue("endpoint_id")
	base := portalBase(s) + "/endpoint/" + url.PathEscape(ep)
	if err := h.call(r.Context(), s, "PATCH", apiPath(s.AppID, "endpoint", ep), endpointBody(r), nil); err != nil {
		if c := hookd.ErrorCode(err); c == hookd.EINVALID || c == hookd.EBADREQUEST {
			http.Redirect(w, r, base+"?error="+url.QueryEscape(hookd.ErrorMessage(err)), http.StatusSeeOther)
			return nil
		}
		return err
	}
	done(w, r, base, "Endpoint saved.")
	return nil
}

func (h *Handler) portalDeleteEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	ep := r.PathValue("endpoint_id")
	if !h.portalConfirmed(w, r, s, "Delete endpoint "+ep+"?", "It stops receiving webhooks at once; this cannot be undone.",
		portalBase(s)+"/endpoint/"+url.PathEscape(ep)) {
		return nil
	}
	if err := h.call(r.Context(), s, "DELETE", apiPath(s.AppID, "endpoint", ep), nil, nil); err != nil {
		return err
	}
	done(w, r, portalBase(s)+"/", "Endpoint deleted.")
	return nil
}

func (h *Handler) portalEnable(disable bool) func(http.ResponseWriter, *http.Request, *session) error {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		ep := r.PathValue("endpoint_id")
		if err := h.call(r.Context(), s, "PATCH", apiPath(s.AppID, "endpoint", ep), map[string]any{"disabled": disable}, nil); err != nil {
			return err
		}
		msg := "Endpoint enabled."
		if disable {
			msg = "Endpoint disabled."
		}
		done(w, r, portalBase(s)+"/endpoint/"+url.PathEscape(ep), msg)
		return nil
	}
}

func (h *Handler) portalRotate(w http.ResponseWriter, r *http.Request, s *session) error {
	ep := r.PathValue("endpoint_id")
	base := portalBase(s) + "/endpoint/" + url.PathEscape(ep)
	if !h.portalConfirmed(w, r, s, "Rotate the signing secret?",
		"A new secret signs from now on; the old one keeps working alongside it for a grace period, so update your verifier soon.", base) {
		return nil
	}
	if err := h.call(r.Context(), s, "POST", apiPath(s.AppID, "endpoint", ep, "secret", "rotate"), map[string]any{}, nil); err != nil {
		return err
	}
	http.Redirect(w, r, base+"?reveal=1&notice="+url.QueryEscape("Secret rotated: this is the new one."), http.StatusSeeOther)
	return nil
}

// portalSendTest sends the chosen event type's example to the endpoint (the API's
// send-example).
func (h *Handler) portalSendTest(w http.ResponseWriter, r *http.Request, s *session) error {
	ep := r.PathValue("endpoint_id")
	name := r.PostFormValue("eventType")
	var out struct {
		ID string `json:"id"`
	}
	if err := h.call(r.Context(), s, "POST", apiPath(s.AppID, "endpoint", ep, "send-example"), map[string]any{"eventType": name}, &out); err != nil {
		return err
	}
	done(w, r, portalBase(s)+"/endpoint/"+url.PathEscape(ep), "Test event "+name+" sent as message "+out.ID+".")
	return nil
}

func (h *Handler) portalMessage(w http.ResponseWriter, r *http.Request, s *session) error {
	md, err := h.messageDetail(r, s.AppID, r.PathValue("msg_id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "portal_message", h.portalView(s, "endpoints", "Message "+md.Message.ID, md))
	return nil
}

func (h *Handler) portalAttempt(w http.ResponseWriter, r *http.Request, s *session) error {
	ad, err := h.attemptDetail(r, s.AppID)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "portal_attempt", h.portalView(s, "endpoints", "Attempt "+ad.Attempt.ID, ad))
	return nil
}

func (h *Handler) portalResend(w http.ResponseWriter, r *http.Request, s *session) error {
	msg, ep := r.PathValue("msg_id"), r.PathValue("endpoint_id")
	if err := h.call(r.Context(), s, "POST", apiPath(s.AppID, "msg", msg, "endpoint", ep, "resend"), nil, nil); err != nil {
		return err
	}
	done(w, r, portalBase(s)+"/msg/"+url.PathEscape(msg), "Resend queued: the new attempt appears below once made.")
	return nil
}

// portalConfirmed is confirmed in the portal.
func (h *Handler) portalConfirmed(w http.ResponseWriter, r *http.Request, s *session, question, detail, back string) bool {
	return h.confirmed(w, r, "portal_confirm", h.portalView(s, "", "", nil), question, detail, back)
}

package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hookd/hookd"
)

// fifoLimit bounds the halted keys an endpoint page lists.
const fifoLimit = 50

// fifoView is an endpoint's ordered delivery as the endpoint pages show it: its
// setting, its ordered deliveries and its halted keys, each with a Release form
// posting to Release (unless ReadOnly).
type fifoView struct {
	On          bool
	Stops       bool
	State       *hookd.FIFOState
	More        int    // halted keys not listed
	Release     string // the release form's action
	MessageBase string // a held message's page is MessageBase + "/" + its ID
	CSRF        string
	ReadOnly    bool
}

// fifo gathers e's FIFO state for its page; nil when the endpoint is not ordered and
// has no ordered delivery left.
func (h *Handler) fifo(r *http.Request, e *hookd.Endpoint, s *session, release, messageBase string) (*fifoView, error) {
	st, err := h.cfg.Store.FIFOState(r.Context(), e.AppID, e.ID, fifoLimit)
	if err != nil {
		return nil, err
	}
	if !e.FIFO && st.Pending+st.Sending+st.HeldCount == 0 {
		return nil, nil
	}
	return &fifoView{On: e.FIFO, Stops: e.FIFOHalts(), State: st, More: st.HeldCount - len(st.Halted),
		Release: release, MessageBase: messageBase, CSRF: s.CSRF, ReadOnly: s.principal.ReadOnly}, nil
}

// releaseBody is the API body of a release form: one key (the form's key, "" being
// the key of messages sent without one) or, with all=yes, every halted key. It
// returns the body and what the confirmation calls it.
func releaseBody(r *http.Request) (map[string]any, string) {
	if r.PostFormValue("all") == "yes" {
		return map[string]any{}, "every halted ordering key"
	}
	key := r.PostFormValue("key")
	name := "ordering key " + strconv.Quote(key)
	if key == "" {
		name = "the messages sent without an ordering key"
	}
	return map[string]any{"orderingKey": key}, name
}

// releaseNotice says what a release did.
func releaseNotice(n int) string {
	if n == 1 {
		return "Released 1 halted ordering key: its next message is sent now."
	}
	return fmt.Sprintf("Released %d halted ordering keys: their next messages are sent now.", n)
}

// releaseDetail is what the confirmation of a release says.
const releaseDetail = "The held message stays failed (it can still be resent); the next message of the key is sent at once, and the rest follow in order."

// fifoReleaseAction releases halted ordering keys from the dashboard's endpoint page
// (POST …/fifo/release of the API).
func (h *Handler) fifoReleaseAction(w http.ResponseWriter, r *http.Request, s *session) error {
	app, ep := r.PathValue("app_id"), r.PathValue("endpoint_id")
	back := "/ui/app/" + url.PathEscape(app) + "/endpoint/" + url.PathEscape(ep)
	body, name := releaseBody(r)
	if !h.adminConfirmed(w, r, s, "Release "+name+" of endpoint "+ep+"?", releaseDetail, back) {
		return nil
	}
	var out struct {
		Released int `json:"released"`
	}
	if err := h.call(r.Context(), s, "POST", apiPath(app, "endpoint", ep, "fifo", "release"), body, &out); err != nil {
		return err
	}
	done(w, r, back, releaseNotice(out.Released))
	return nil
}

// portalFIFORelease releases halted ordering keys from the portal's endpoint page.
func (h *Handler) portalFIFORelease(w http.ResponseWriter, r *http.Request, s *session) error {
	ep := r.PathValue("endpoint_id")
	back := portalBase(s) + "/endpoint/" + url.PathEscape(ep)
	body, name := releaseBody(r)
	if !h.portalConfirmed(w, r, s, "Release "+name+"?", releaseDetail, back) {
		return nil
	}
	var out struct {
		Released int `json:"released"`
	}
	if err := h.call(r.Context(), s, "POST", apiPath(s.AppID, "endpoint", ep, "fifo", "release"), body, &out); err != nil {
		return err
	}
	done(w, r, back, releaseNotice(out.Released))
	return nil
}

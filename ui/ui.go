// Package ui is hookd's web interface: the operator dashboard at /ui and the customer
// portal at /portal. Pages are rendered on the server with html/template from
// embedded templates; the few scripts and the stylesheet are embedded files served
// under names that carry their hash, so no page needs a build step, a CDN or an
// inline script.
//
// Pages read through the store interfaces, scoped as the API scopes them; every
// change is made by calling the REST API in-process with the session's own bearer
// credential, so a page never applies a rule of its own and is refused whatever the
// API would refuse to that credential.
package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Principal is who a bearer credential is, as the API's authentication sees it.
type Principal struct {
	// AppID is the one application an application-scoped token reaches; "" for an
	// admin API key.
	AppID string
	// ReadOnly credentials may look but not change anything.
	ReadOnly bool
}

// Brand is how the portal presents the operator to its customers.
type Brand struct {
	// Name replaces "hookd" in the portal's header and title.
	Name string
	// LogoURL is an https:// URL or an absolute path of an image shown in the header.
	LogoURL string
	// Color is the accent colour, as #rgb or #rrggbb.
	Color string
}

// Config is what the pages need.
type Config struct {
	// Store is read for every page.
	Store hookd.Store
	// API is the REST API: every change a page makes is a request to it.
	API http.Handler
	// AuthenticateFunc checks a bearer credential (an admin API key for the dashboard,
	// an application-scoped token for the portal) the way the API does.
	AuthenticateFunc func(ctx context.Context, token string) (Principal, error)
	// SessionKey encrypts and authenticates session cookies (32 bytes). Nodes sharing
	// a store must share it.
	SessionKey []byte
	// SessionTTL is how long a dashboard session lasts (default 12 h); a portal session
	// lasts at most as long as its token.
	SessionTTL time.Duration
	// LiveNodesFunc, if set, returns how many hookd nodes share the store.
	LiveNodesFunc func() int
	// FrameAncestors are the origins allowed to embed the portal in a frame
	// (Content-Security-Policy frame-ancestors); empty forbids framing.
	FrameAncestors []string
	// Brand is the portal's name, logo and colour.
	Brand Brand
	// Now is the clock; nil means time.Now.
	Now hookd.Clock
	// Logger receives errors of page handlers; nil discards.
	Logger *slog.Logger
}

// Validate reports the first invalid field, named as its flag.
func (c Config) Validate() error {
	if len(c.SessionKey) != 32 {
		return errors.New("ui: session key must be 32 bytes")
	}
	if err := c.Brand.Validate(); err != nil {
		return err
	}
	return ValidateFrameAncestors(c.FrameAncestors)
}

// Validate reports an invalid field of the brand, named as its flag.
func (b Brand) Validate() error {
	if b.Color != "" && !validColor(b.Color) {
		return fmt.Errorf("portal-brand-color: %q is not #rgb or #rrggbb", b.Color)
	}
	if b.LogoURL != "" && !validLogo(b.LogoURL) {
		return fmt.Errorf("portal-brand-logo: %q is not an https:// URL or an absolute path", b.LogoURL)
	}
	if len(b.Name) > 100 {
		return errors.New("portal-brand-name: at most 100 characters")
	}
	return nil
}

// ValidateFrameAncestors checks the origins allowed to frame the portal.
func ValidateFrameAncestors(origins []string) error {
	for _, a := range origins {
		if !validAncestor(a) {
			return fmt.Errorf("portal-frame-ancestors: %q is not an origin like https://app.example.com or 'self'", a)
		}
	}
	return nil
}

// Handler serves /ui/… and /portal/….
type Handler struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	pages pages
	box   *box
}

// New returns the pages for cfg, which must be valid (see Config.Validate).
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := newBox(cfg.SessionKey)
	if err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), pages: p, box: b}
	h.routes()
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, "/portal") {
		hd.Set("Content-Security-Policy", h.portalCSP())
	} else {
		hd.Set("Content-Security-Policy", dashboardCSP)
		hd.Set("X-Frame-Options", "DENY")
	}
	h.mux.ServeHTTP(w, r)
}

// dashboardCSP allows only hookd's own files: no inline script or style, no framing.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// portalCSP is dashboardCSP with the operator's logo and framing origins.
func (h *Handler) portalCSP() string {
	img := "'self' data:"
	if o := logoOrigin(h.cfg.Brand.LogoURL); o != "" {
		img += " " + o
	}
	anc := "'none'"
	if len(h.cfg.FrameAncestors) > 0 {
		anc = strings.Join(h.cfg.FrameAncestors, " ")
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img + "; " +
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors " + anc
}

func (h *Handler) now() time.Time { return h.cfg.Now().UTC() }

// handle registers a page handler; an error it returns is rendered as an error page.
func (h *Handler) handle(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

func (h *Handler) routes() {
	h.mux.Handle("GET /ui/static/", http.HandlerFunc(serveAsset))
	h.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	h.dashboardRoutes()
	h.portalRoutes()
}

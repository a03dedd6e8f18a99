package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// Cookie names. The dashboard's and the portal's sessions are apart, each limited to
// its own path.
const (
	dashboardCookie = "hookd_ui"
	portalCookie    = "hookd_portal"
	signinCookie    = "hookd_signin" // CSRF token of the sign-in form
)

// session is what a session cookie carries, encrypted: the bearer credential the
// pages use for the API, so that a revoked or expired key or token ends the session
// at its next request.
type session struct {
	// Token is the admin API key or the application-scoped token.
	Token string `json:"t"`
	// AppID is the portal's application; "" on the dashboard.
	AppID string `json:"a,omitempty"`
	// CSRF is the token every form of the session carries.
	CSRF string `json:"c"`
	// Expires is the session's end, unix seconds.
	Expires int64 `json:"e"`

	// principal is the credential as checked at this request (not stored).
	principal Principal
}

// box seals and opens cookie values with AES-256-GCM.
type box struct{ aead cipher.AEAD }

func newBox(key []byte) (*box, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &box{aead: aead}, nil
}

// seal encrypts v (as JSON) for a cookie named name: a value sealed for one cookie
// does not open as another.
func (b *box) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// open decrypts a value sealed by seal for the same cookie name into v.
func (b *box) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return errors.New("malformed cookie")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return errors.New("cookie does not authenticate")
	}
	return json.Unmarshal(plain, v)
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ui: read random bytes: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// setCookie writes an HttpOnly cookie for path, Secure when the request came over TLS.
// The portal may be framed by another site, where only SameSite=None cookies are
// sent, and browsers take those only with Secure.
func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, expires time.Time, crossSite bool) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
	if crossSite && r.TLS != nil {
		c.SameSite = http.SameSiteNoneMode
	}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds()) + 1
	}
	http.SetCookie(w, c)
}

// startSession sets the session cookie.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, name, path string, s *session) error {
	v, err := h.box.seal(name, s)
	if err != nil {
		return err
	}
	setCookie(w, r, name, v, path, time.Unix(s.Expires, 0), name == portalCookie && len(h.cfg.FrameAncestors) > 0)
	return nil
}

// errNoSession means the request carries no valid session.
var errNoSession = errors.New("no session")

// session returns the request's session from cookie name, with its credential
// checked again.
func (h *Handler) session(r *http.Request, name string) (*session, error) {
	c, err := r.Cookie(name)
	if err != nil {
		return nil, errNoSession
	}
	var s session
	if err := h.box.open(name, c.Value, &s); err != nil {
		return nil, errNoSession
	}
	if h.now().Unix() >= s.Expires {
		return nil, errNoSession
	}
	p, err := h.cfg.AuthenticateFunc(r.Context(), s.Token)
	if err != nil {
		return nil, errNoSession
	}
	if p.AppID != s.AppID {
		return nil, errNoSession // an admin session never opens the portal, or the reverse
	}
	s.principal = p
	return &s, nil
}

// checkCSRF refuses a form that does not carry the session's CSRF token.
func checkCSRF(r *http.Request, want string) error {
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return hookd.Errorf(hookd.EFORBIDDEN, "the form is missing its CSRF token or it does not match this session: reload the page and try again")
	}
	return nil
}

// newSigninCSRF sets the CSRF token of a sign-in form, kept in a cookie for path
// until there is a session, and returns it.
func (h *Handler) newSigninCSRF(w http.ResponseWriter, r *http.Request, path string, crossSite bool) string {
	token := randomToken()
	setCookie(w, r, signinCookie, token, path, h.now().Add(time.Hour), crossSite)
	return token
}

// checkSigninCSRF refuses a sign-in form whose CSRF token is not its cookie's.
func checkSigninCSRF(r *http.Request) error {
	want := ""
	if c, err := r.Cookie(signinCookie); err == nil {
		want = c.Value
	}
	return checkCSRF(r, want)
}

package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assets maps each static file's name (app.css) to the name it is served under
// (app.1a2b3c4d5e6f.css), and back, so a changed file gets a new URL and every URL can
// be cached forever.
var assets, assetFiles = func() (map[string]string, map[string]string) {
	byName, byHashed := map[string]string{}, map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		byName[e.Name()] = "/ui/static/" + hashed
		byHashed[hashed] = e.Name()
	}
	return byName, byHashed
}()

// serveAsset serves an embedded static file by its hashed name.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name, ok := assetFiles[strings.TrimPrefix(r.URL.Path, "/ui/static/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}

// pages holds one parsed template per page, each with its layout.
type pages map[string]*template.Template

var funcs = template.FuncMap{
	"asset": func(name string) string { return assets[name] },
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"timep": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ms":     func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) },
	"pretty": prettyJSON,
	"pct":    func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"join":   strings.Join,
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"q":    url.QueryEscape,
	"list": func(s ...string) []string { return s },
}

func itoa(n int) string { return strconv.Itoa(n) }

// parsePages parses every page template with its layout: portal_*.html with the
// portal's, the others with the dashboard's.
func parsePages() (pages, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := pages{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if strings.HasSuffix(name, "layout") || name == "partials" {
			continue
		}
		layout := "templates/layout.html"
		if strings.HasPrefix(name, "portal_") {
			layout = "templates/portal_layout.html"
		}
		t, err := template.New(path.Base(layout)).Funcs(funcs).ParseFS(templateFS, layout, "templates/partials.html", f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		out[name] = t
	}
	return out, nil
}

// view is what every template receives.
type view struct {
	Title string
	// Nav names the current section, for the navigation's highlight.
	Nav string
	// CSRF is the token every form carries.
	CSRF string
	// ReadOnly hides the controls that change something.
	ReadOnly bool
	// Notice and Error are shown at the top of the page.
	Notice, Error string
	// Brand and AppID are the portal's.
	Brand Brand
	AppID string
	Data  any
}

// render writes page with v and status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := h.pages[page]
	if !ok {
		h.log.Error("ui: no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Notice == "" {
		v.Notice = r.URL.Query().Get("notice")
	}
	if v.Error == "" {
		v.Error = r.URL.Query().Get("error")
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		h.log.Error("ui: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders err as an error page with the status the API would answer.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := hookd.ErrorCode(err)
	status := api.StatusCode(code)
	if status >= 500 {
		h.log.Error("ui: page failed", "path", r.URL.Path, "err", err)
	}
	page := "error"
	v := &view{Title: http.StatusText(status), Error: hookd.ErrorMessage(err)}
	if strings.HasPrefix(r.URL.Path, "/portal") {
		page = "portal_error"
		v.Brand = h.cfg.Brand
	}
	v.Data = status
	h.render(w, r, status, page, v)
}

// prettyJSON indents a JSON document for reading, with <, > and & shown as
// themselves rather than as the \u escapes the API stores them with (the template
// escapes them for HTML); anything else is returned as is.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return unescapeHTMLChars(out.Bytes())
}

// htmlEscapes are the escapes encoding/json writes for HTML-sensitive characters.
var htmlEscapes = map[string]string{`\u003c`: "<", `\u003e`: ">", `\u0026`: "&", `\u2028`: "\u2028", `\u2029`: "\u2029"}

// unescapeHTMLChars undoes htmlEscapes in valid JSON text, taking escape pairs one at
// a time so that an escaped backslash followed by "u003c" stays as it is.
func unescapeHTMLChars(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out.WriteByte(b[i])
			continue
		}
		if i+6 <= len(b) {
			if r, ok := htmlEscapes[strings.ToLower(string(b[i:i+6]))]; ok {
				out.WriteString(r)
				i += 5
				continue
			}
		}
		out.WriteByte(b[i])
		out.WriteByte(b[i+1])
		i++
	}
	return out.String()
}

var colorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func validColor(c string) bool { return colorRE.MatchString(c) }

// validLogo accepts an https URL or an absolute path on hookd's own origin.
func validLogo(s string) bool {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return !strings.ContainsAny(s, "\"'<> ")
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && !strings.ContainsAny(s, "\"'<> ;")
}

// logoOrigin is the origin of an https logo, for the portal's img-src.
func logoOrigin(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ""
	}
	return "https://" + u.Host
}

// validAncestor accepts the CSP source expressions an operator would give for
// frame-ancestors: 'self', or a scheme and host (with an optional * subdomain
// wildcard and port).
var ancestorRE = regexp.MustCompile(`^https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

func validAncestor(s string) bool { return s == "'self'" || ancestorRE.MatchString(s) }

// errForbidden is the answer to a request for another application's page.
var errForbidden = hookd.Errorf(hookd.EFORBIDDEN, "this session may not see that application")

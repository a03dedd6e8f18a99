package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
)

const adminToken = "ui-test-admin-token-0123456789"

// testServer is a real hookd server on loopback with a SQLite file.
type testServer struct {
	srv *server.Server
	url string
	api hookdtest.API
}

func startServer(t *testing.T, edit ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "hookd.db")
	cfg.AdminToken = adminToken
	cfg.AllowPrivate = true
	cfg.RetrySchedule, _ = hookd.ParseRetrySchedule("none")
	for _, e := range edit {
		e(&cfg)
	}
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return &testServer{srv: srv, url: srv.URL(),
		api: hookdtest.API{Client: &http.Client{Timeout: 30 * time.Second}, Token: adminToken}}
}

// do calls the API as the admin and fails the test on an error answer.
func (ts *testServer) do(t *testing.T, method, path string, in, out any) {
	t.Helper()
	if _, err := ts.api.Do(t.Context(), method, ts.url+path, nil, in, out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// waitAttempts waits until the message has at least n attempts and returns them,
// newest first.
func (ts *testServer) waitAttempts(t *testing.T, appID, msgID string, n int) []*hookd.Attempt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		as, err := ts.srv.Store().AttemptsByMessage(t.Context(), appID, msgID, hookd.AttemptFilter{}, hookd.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) >= n {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s has %d attempts after 20 s, want %d", msgID, len(as), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverConfig is what startServer's edits change.
type serverConfig = server.Config

// awaitPromise makes chromedp.Evaluate wait for the promise the expression returns.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// chromiumPath finds the browser, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HOOKD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium not found (install Debian's chromium package, or set HOOKD_CHROMIUM): skipping the browser tests")
	return ""
}

// browser is one headless Chromium with a fresh profile; Dialogs counts the
// JavaScript dialogs (alert, confirm) any page opened.
type browser struct {
	ctx     context.Context
	t       *testing.T
	shots   string
	Dialogs atomic.Int32
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	// Removed after the browser exits (cleanups run last first).
	profile, err := os.MkdirTemp("", "hookd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	b := &browser{ctx: bctx, t: t, shots: os.Getenv("HOOKD_UI_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	chromedp.ListenTarget(bctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.Dialogs.Add(1)
			go func() { _ = chromedp.Run(bctx, page.HandleJavaScriptDialog(false)) }()
		}
	})
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// run runs actions, failing the test with what was being done.
func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

// location returns the page's URL.
func (b *browser) location() string {
	b.t.Helper()
	var s string
	b.run("read location", chromedp.Location(&s))
	return s
}

// screenshot saves the page as name.png among the test's artefacts.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
}

// signIn signs in to the dashboard with key.
func (b *browser) signIn(base, key string) {
	b.t.Helper()
	b.run("sign in",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible("#key", chromedp.ByQuery),
		chromedp.SendKeys("#key", key, chromedp.ByQuery),
		chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitVisible("#per-minute", chromedp.ByQuery),
	)
}

// receiver is a real HTTP receiver that fails until told to succeed, and passes on
// every request it gets.
type receiver struct {
	url     string
	succeed atomic.Bool
	got     chan received
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   string
}

// failBody is what the receiver answers while failing.
const failBody = `{"error":"receiver rejected order-42"}`

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan received, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case rc.got <- received{header: r.Header.Clone(), body: string(b)}:
		default:
		}
		if rc.succeed.Load() {
			_, _ = w.Write([]byte(`thanks`))
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(failBody))
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

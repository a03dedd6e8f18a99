package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/webhook"
)

// defaultListenPort is listen's --port.
const defaultListenPort = 8072

// maxListenBody bounds one received request's body.
const maxListenBody = 16 << 20

type listenFlags struct {
	port       int
	host       string
	secrets    []string
	profile    string
	status     int
	json       bool
	captureDir string
	tolerance  time.Duration

	// Relay through a hookd server.
	conn        connFlags
	app         string
	forwardTo   string
	events      []string
	name        string
	printSecret bool
}

func newListenCmd() *cobra.Command {
	f := listenFlags{conn: connFlags{profileFlag: "login-profile"}}
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Receive webhooks locally: print, verify and capture them, or relay them from your hookd",
		Long: `listen is a local inbox for webhooks. It runs a receiver on localhost (--port,
default 8072) and prints every request as it arrives: time, webhook ID, event type,
signature verdict and the body as indented JSON (--json: one JSON object per line).
With --secret (repeatable, and --profile for other signature schemes, as for 'hookd
verify') each request is verified; the answer is --status (200 by default; give 500 to
watch the sender retry). --capture-dir saves every request as a raw HTTP request file
that 'hookd verify --request-file' and 'hookd replay' read.

With --app and --forward-to, listen receives the webhooks of your own hookd server
instead, through one outbound connection, so it works from behind NAT or a firewall:
it creates a temporary relay endpoint in the application (a hookd extension; --events
limits it to some event types), long-polls the server over its normal API port for the
deliveries to that endpoint, forwards each to the --forward-to URL with its headers and
signature untouched, and hands the local answer back: hookd records it as the attempt,
and retries when the local handler fails or listen is not running. The endpoint's
secret verifies what arrives; --print-secret prints it, for the local handler. Ctrl-C
removes the endpoint. Its uid comes from --name (by default from the host name and the
forward URL), so a listen restarted after a crash takes up the same endpoint and
receives what waited for it. The connection settings are those of the API commands:
--url, --token, or a profile saved by 'hookd login', chosen here with --login-profile
(--profile is the signature profile, as for 'hookd verify').`,
		Example: `  hookd listen
  hookd listen --port 9000 --secret whsec_… --capture-dir ./captures
  hookd listen --status 503 --json
  hookd listen --app acme --forward-to http://localhost:3000/webhooks --events invoice.paid --print-secret`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.forwardTo != "" || f.app != "" {
				return runRelayListen(cmd, &f)
			}
			return runListen(cmd, &f)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&f.port, "port", defaultListenPort, "port of the local receiver (0 picks a free one)")
	fs.StringVar(&f.host, "host", "127.0.0.1", "address the local receiver listens on")
	fs.StringArrayVar(&f.secrets, "secret", nil, "verify signatures with this secret (repeatable); env HOOKD_SECRET")
	fs.StringVar(&f.profile, "profile", "standard", "signature profile to verify: "+joinProfiles())
	fs.DurationVar(&f.tolerance, "tolerance", webhook.DefaultTolerance, "how far a signed timestamp may be from now")
	fs.IntVar(&f.status, "status", http.StatusOK, "HTTP status to answer with")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per request, on one line")
	fs.StringVar(&f.captureDir, "capture-dir", "", "save every request in this directory as a raw HTTP request file")
	f.conn.register(fs)
	fs.StringVar(&f.app, "app", "", "relay: application ID or uid whose webhooks to receive")
	fs.StringVar(&f.forwardTo, "forward-to", "", "relay: local URL the webhooks are forwarded to")
	fs.StringSliceVar(&f.events, "events", nil, "relay: only these event types")
	fs.StringVar(&f.name, "name", "", "relay: names the temporary endpoint, its uid (default: derived from the host name and --forward-to)")
	fs.BoolVar(&f.printSecret, "print-secret", false, "relay: print the temporary endpoint's signing secret")
	return cmd
}

// inbox prints, verifies and captures webhooks; listen's receiver and its relay
// both use it.
type inbox struct {
	out      io.Writer
	json     bool
	verifier *webhook.Verifier
	profile  webhook.Profile
	dir      string

	mu  sync.Mutex // serialises output and capture names
	seq int
}

// newInbox checks the flags listen's two modes share.
func newInbox(cmd *cobra.Command, f *listenFlags) (*inbox, error) {
	ib := &inbox{out: cmd.OutOrStdout(), json: f.json, dir: f.captureDir}
	p, err := webhook.LookupProfile(f.profile)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--profile: %w", err))
	}
	ib.profile = p
	secrets := f.secrets
	if len(secrets) == 0 {
		if s := os.Getenv("HOOKD_SECRET"); s != "" {
			secrets = []string{s}
		}
	}
	if len(secrets) > 0 {
		if ib.verifier, err = webhook.NewVerifier(p, secrets, webhook.WithTolerance(f.tolerance)); err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("--secret: %w", err))
		}
	}
	if ib.dir != "" {
		if err := os.MkdirAll(ib.dir, 0o700); err != nil {
			return nil, withCode(exitError, fmt.Errorf("--capture-dir: %w", err))
		}
	}
	return ib, nil
}

// entry is what listen prints about one request (--json prints it as is).
type entry struct {
	Time      time.Time       `json:"time"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Query     string          `json:"query,omitempty"`
	ID        string          `json:"id,omitempty"`
	EventType string          `json:"eventType,omitempty"`
	Signature string          `json:"signature"` // valid, invalid or unverified
	Reason    string          `json:"reason,omitempty"`
	Headers   http.Header     `json:"headers"`
	Body      json.RawMessage `json:"body,omitempty"`
	BodyText  string          `json:"bodyText,omitempty"` // a body that is not JSON
	Status    int             `json:"status"`             // the answer given
	Answer    string          `json:"answer,omitempty"`   // relay: what the local handler said
	Capture   string          `json:"capture,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// take records one request: verifies, captures and prints it.
func (ib *inbox) take(r *http.Request, body []byte, eventType string, status int, answer string, fwdErr error) *entry {
	e := &entry{Time: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Headers: r.Header, Status: status, Answer: answer}
	e.ID = r.Header.Get(ib.profile.IDHeader)
	if e.ID == "" {
		e.ID = firstHeader(r.Header, "webhook-id", "svix-id")
	}
	if fwdErr != nil {
		e.Error = fwdErr.Error()
	}
	var probe struct {
		Type      string `json:"type"`
		EventType string `json:"eventType"`
	}
	if json.Valid(body) {
		e.Body = body
		if json.Unmarshal(body, &probe) == nil {
			e.EventType = probe.Type
			if e.EventType == "" {
				e.EventType = probe.EventType
			}
		}
	} else {
		e.BodyText = string(body)
	}
	if eventType != "" {
		e.EventType = eventType
	}
	e.Signature = "unverified"
	if ib.verifier != nil {
		if err := ib.verifier.Verify(r.Header, body); err != nil {
			e.Signature, e.Reason = "invalid", verifyReason(err)
		} else {
			e.Signature = "valid"
		}
	}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.dir != "" {
		name, err := ib.capture(r, body, e)
		if err != nil {
			e.Error = "capture: " + err.Error()
		}
		e.Capture = name
	}
	ib.print(e)
	return e
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// capture writes the request as a raw HTTP request file, the format 'hookd verify
// --request-file' and 'hookd replay' read.
func (ib *inbox) capture(r *http.Request, body []byte, e *entry) (string, error) {
	ib.seq++
	id := unsafeName.ReplaceAllString(e.ID, "_")
	if id == "" {
		id = "request"
	}
	name := filepath.Join(ib.dir, fmt.Sprintf("%s-%04d-%s.http", e.Time.Format("20060102T150405"), ib.seq, id))
	data, err := dumpRequest(r, body)
	if err != nil {
		return "", err
	}
	return name, os.WriteFile(name, data, 0o600)
}

// dumpRequest renders a request as raw HTTP/1.1 with its exact body and a
// Content-Length.
func dumpRequest(r *http.Request, body []byte) ([]byte, error) {
	c := r.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	c.TransferEncoding = nil
	c.Header.Del("Content-Length")
	c.Header.Del("Transfer-Encoding")
	c.Proto, c.ProtoMajor, c.ProtoMinor = "HTTP/1.1", 1, 1
	return httputil.DumpRequest(c, true)
}

func (ib *inbox) print(e *entry) {
	if ib.json {
		b, _ := json.Marshal(e)
		fmt.Fprintf(ib.out, "%s\n", b)
		return
	}
	id, et := e.ID, e.EventType
	if id == "" {
		id = "-"
	}
	if et == "" {
		et = "-"
	}
	sig := "signature " + e.Signature
	if e.Reason != "" {
		sig += " (" + e.Reason + ")"
	}
	fmt.Fprintf(ib.out, "%s  %s  %s  %s  %s %s  → %d", e.Time.Local().Format("15:04:05"), id, et, sig, e.Method, e.Path, e.Status)
	if e.Answer != "" {
		fmt.Fprintf(ib.out, " %q", truncate(e.Answer, 80))
	}
	if e.Error != "" {
		fmt.Fprintf(ib.out, "  error: %s", e.Error)
	}
	fmt.Fprintln(ib.out)
	if e.Capture != "" {
		fmt.Fprintf(ib.out, "  saved %s\n", e.Capture)
	}
	if len(e.Body) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, e.Body, "  ", "  ") == nil {
			fmt.Fprintf(ib.out, "  %s\n", buf.Bytes())
		}
	} else if e.BodyText != "" {
		fmt.Fprintf(ib.out, "  %s\n", truncate(e.BodyText, 2000))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func joinProfiles() string {
	var b bytes.Buffer
	for i, n := range webhook.ProfileNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

func runListen(cmd *cobra.Command, f *listenFlags) error {
	if f.status < 100 || f.status > 999 {
		return withCode(exitUsage, fmt.Errorf("--status: %d is not an HTTP status", f.status))
	}
	if f.port < 0 || f.port > 65535 {
		return withCode(exitUsage, fmt.Errorf("--port: %d is not from 0 to 65535", f.port))
	}
	ib, err := newInbox(cmd, f)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.port)))
	if err != nil {
		return withCode(exitError, fmt.Errorf("listen: %w", err))
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxListenBody))
		if err != nil {
			http.Error(w, "hookd listen: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		e := ib.take(r, body, "", f.status, "", nil)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.status)
		fmt.Fprintf(w, "hookd listen: signature %s\n", e.Signature)
	})}
	verifying := "not verifying signatures (no --secret)"
	if ib.verifier != nil {
		verifying = "verifying " + ib.profile.Name + " signatures"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "hookd: listening on http://%s (%s, answering %d); Ctrl-C stops\n", ln.Addr(), verifying, f.status)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return withCode(exitError, err)
	case <-cmd.Context().Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return withCode(exitError, err)
	}
	return nil
}

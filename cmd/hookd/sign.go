package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/webhook"
)

// webhookFlags are the flags sign and verify share.
type webhookFlags struct {
	secrets     []string
	profile     string
	sigHeader   string
	id          string
	timestamp   string
	body        string
	bodyFile    string
	requestFile string
	json        bool
}

func (f *webhookFlags) register(fs *pflag.FlagSet, verb string) {
	fs.StringArrayVar(&f.secrets, "secret", nil, "secret to "+verb+" with (whsec_…, whsk_…/whpk_… for ed25519, any string for github/stripe/hmac-*-hex); repeat for rotation; env HOOKD_SECRET")
	fs.StringVar(&f.profile, "profile", "standard", "signature profile: "+strings.Join(webhook.ProfileNames(), ", "))
	fs.StringVar(&f.sigHeader, "signature-header", "", "carry the signature in this header instead of the profile's")
	fs.StringVar(&f.id, "id", "", "message ID (webhook-id)")
	fs.StringVar(&f.timestamp, "timestamp", "", "send time: Unix seconds, RFC 3339 or \"now\"")
	fs.StringVar(&f.body, "body", "", "request body")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from this file (- for standard input)")
	fs.StringVar(&f.requestFile, "request-file", "", "captured raw HTTP request (request line, headers, blank line, body) to take headers and body from (- for standard input); --body or --body-file replaces its body")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON")
}

// webhookInput is what sign and verify work on.
type webhookInput struct {
	profile  webhook.Profile
	secrets  []string
	header   http.Header // from --request-file, or empty
	body     []byte
	bodyFrom string // where the body came from, for hints
}

// load resolves the shared flags. Its errors are usage errors.
func (f *webhookFlags) load(fs *pflag.FlagSet, stdin io.Reader, verb string) (*webhookInput, error) {
	in := &webhookInput{header: http.Header{}}
	p, err := webhook.LookupProfile(f.profile)
	if err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	if f.sigHeader != "" {
		p = p.WithSignatureHeader(f.sigHeader)
	}
	in.profile = p

	in.secrets = f.secrets
	if len(in.secrets) == 0 {
		if s := os.Getenv("HOOKD_SECRET"); s != "" {
			in.secrets = []string{s}
		}
	}
	if len(in.secrets) == 0 {
		hint := "whsec_…"
		if p.Algorithm == webhook.Ed25519 {
			hint = "whsk_…"
			if verb == "verify" {
				hint = "whpk_…"
			}
		}
		return nil, fmt.Errorf("no secret: pass --secret %s or set HOOKD_SECRET", hint)
	}

	if fs.Changed("body") && f.bodyFile != "" {
		return nil, errors.New("give only one of --body and --body-file")
	}
	if f.bodyFile == "-" && f.requestFile == "-" {
		return nil, errors.New("--body-file and --request-file cannot both read standard input")
	}
	// The captured request comes first, so that a body given by flag replaces its
	// body, as --id, --timestamp and --signature replace its headers. This is what
	// lets the headers printed by 'hookd sign' be piped into 'hookd verify'.
	if f.requestFile != "" {
		var data []byte
		from := f.requestFile
		if from == "-" {
			from = "standard input"
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f.requestFile)
		}
		if err != nil {
			return nil, fmt.Errorf("--request-file: %w", err)
		}
		var note string
		if in.header, in.body, note, err = parseCapturedRequest(data); err != nil {
			return nil, fmt.Errorf("--request-file %s: %w", from, err)
		}
		in.bodyFrom = from + " (" + note + ")"
	}
	switch {
	case fs.Changed("body"):
		in.body, in.bodyFrom = []byte(f.body), "--body"
	case f.bodyFile == "-":
		if in.body, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("--body-file: read standard input: %w", err)
		}
		in.bodyFrom = "standard input"
	case f.bodyFile != "":
		if in.body, err = os.ReadFile(f.bodyFile); err != nil {
			return nil, fmt.Errorf("--body-file: %w", err)
		}
		in.bodyFrom = f.bodyFile
	case f.requestFile == "":
		return nil, errors.New("no body: pass --body, --body-file or --request-file")
	}
	return in, nil
}

// parseCapturedRequest reads a raw HTTP request dump. The request line may be
// missing (a file that starts with headers), and line endings may be LF or CRLF.
// The body is Content-Length bytes when the header fits, else everything after the
// blank line; note says which.
func parseCapturedRequest(data []byte) (http.Header, []byte, string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, "", errors.New("file is empty")
	}
	firstLine, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.Contains(firstLine, []byte(":")) && !bytes.Contains(firstLine, []byte("HTTP/")) {
		data = append([]byte("POST / HTTP/1.1\r\n"), data...)
	}
	// Headers alone, as 'hookd sign' prints them, lack the blank line that ends them.
	if !bytes.Contains(data, []byte("\n\n")) && !bytes.Contains(data, []byte("\n\r\n")) {
		if !bytes.HasSuffix(data, []byte("\n")) {
			data = append(data, '\n')
		}
		data = append(data, '\n')
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, nil, "", fmt.Errorf("not a raw HTTP request (want a request line, headers, a blank line and the body): %w", err)
	}
	if len(req.TransferEncoding) > 0 {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, nil, "", fmt.Errorf("read chunked body: %w", err)
		}
		return req.Header, body, "chunked body", nil
	}
	// The body starts after the first blank line, whichever line ending it has.
	var rest []byte
	crlf, lf := bytes.Index(data, []byte("\n\r\n")), bytes.Index(data, []byte("\n\n"))
	switch {
	case lf >= 0 && (crlf < 0 || lf < crlf):
		rest = data[lf+2:]
	case crlf >= 0:
		rest = data[crlf+3:]
	}
	if req.Header.Get("Content-Length") != "" && req.ContentLength >= 0 && req.ContentLength <= int64(len(rest)) {
		return req.Header, rest[:req.ContentLength], fmt.Sprintf("%d bytes per Content-Length", req.ContentLength), nil
	}
	return req.Header, rest, fmt.Sprintf("%d bytes after the headers, no usable Content-Length", len(rest)), nil
}

// parseCLITimestamp accepts Unix seconds, RFC 3339 or "now" (also for "").
func parseCLITimestamp(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "" || s == "now":
		return now, nil
	case strings.Trim(s, "0123456789") == "":
		return webhook.ParseTimestamp(s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--timestamp %q: want Unix seconds (1674087231), RFC 3339 (2023-01-19T00:13:51Z) or now", s)
	}
	return t, nil
}

func newSignCmd() *cobra.Command {
	var f webhookFlags
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign a webhook and print the headers to send",
		Long: `Sign a webhook body the way hookd does and print the headers to send with it.

The body comes from --body, --body-file or a captured request (--request-file, - for
standard input), whose webhook-id and webhook-timestamp headers are reused unless --id
or --timestamp is given. Without --id a new message ID is made; without --timestamp
the time is now.

The printed headers are a valid --request-file for 'hookd verify', so the two can be
piped together (see the examples).

Exit codes: 0 signed, 2 usage error (bad flag, secret or file).`,
		Example: `  hookd sign --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --id msg_1 --body '{"a":1}'
  hookd sign --profile github --secret mysecret --body-file payload.json --json
  hookd sign --secret whsec_… --body '{"a":1}' | hookd verify --secret whsec_… --body '{"a":1}' --request-file -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSign(cmd, &f, time.Now())
		},
	}
	f.register(cmd.Flags(), "sign")
	return cmd
}

// signResult is sign's JSON output.
type signResult struct {
	Profile string            `json:"profile"`
	Headers map[string]string `json:"headers"`
}

func runSign(cmd *cobra.Command, f *webhookFlags, now time.Time) error {
	in, err := f.load(cmd.Flags(), cmd.InOrStdin(), "sign")
	if err != nil {
		return withCode(exitUsage, err)
	}
	p := in.profile
	id := f.id
	if id == "" {
		id = in.header.Get(p.IDHeader)
	}
	if id == "" {
		id = hookd.IDGen{}.New(hookd.PrefixMessage)
	}
	tsText := f.timestamp
	if tsText == "" {
		tsText = in.header.Get(p.TimestampHeader)
	}
	ts, err := parseCLITimestamp(tsText, now)
	if err != nil {
		return withCode(exitUsage, err)
	}
	signer, err := webhook.NewSigner(p, in.secrets...)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--secret: %w", err))
	}
	h := http.Header{}
	signer.Sign(h, id, ts, in.body)

	out := cmd.OutOrStdout()
	names := []string{p.IDHeader, p.TimestampHeader, p.SignatureHeader}
	if f.json {
		res := signResult{Profile: p.Name, Headers: map[string]string{}}
		for _, n := range names {
			res.Headers[n] = h.Get(n)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	for _, n := range names {
		fmt.Fprintf(out, "%s: %s\n", n, h.Get(n))
	}
	return nil
}

// formatUnix renders a time as Unix seconds.
func formatUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/webhook"
)

type replayFlags struct {
	to      string
	resign  bool
	secrets []string
	profile string
	json    bool
	timeout time.Duration
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay CAPTURE...",
		Short: "Send captured webhook requests again",
		Long: `replay sends requests captured by 'hookd listen --capture-dir' (or any raw HTTP
request file) to --to, and reports each answer.

By default each request goes out byte for byte as captured: method, headers and body,
so its original signature still verifies (with the timestamp check off, since it is
old). With --resign, the signature headers are replaced: the request is signed again
with --secret (and --profile) and a fresh timestamp, keeping its webhook ID, so a
receiver that checks timestamps, or one with a new secret, accepts it.

If --to has no path, the captured path and query are used.

Exit codes: 0 every answer was 2xx, 1 some answer was not, 2 usage error, 3 a request
could not be sent.`,
		Example: `  hookd replay captures/*.http --to http://localhost:3000/webhooks
  hookd replay captures/20260119T001351-0001-msg_2Qh.http --to http://localhost:3000 \
      --resign --secret whsec_…`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error { return runReplay(cmd, &f, args) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.to, "to", "", "URL to send the requests to (required)")
	fs.BoolVar(&f.resign, "resign", false, "sign again with --secret and a fresh timestamp")
	fs.StringArrayVar(&f.secrets, "secret", nil, "with --resign: the secret to sign with (repeatable); env HOOKD_SECRET")
	fs.StringVar(&f.profile, "profile", "standard", "with --resign: signature profile: "+joinProfiles())
	fs.BoolVar(&f.json, "json", false, "print one JSON object per request, on one line")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of one request")
	return cmd
}

// replayResult is replay's report of one request (--json prints it as is).
type replayResult struct {
	File       string `json:"file"`
	URL        string `json:"url"`
	ID         string `json:"id,omitempty"`
	Resigned   bool   `json:"resigned"`
	Status     int    `json:"status,omitempty"`
	DurationMs int64  `json:"durationMs"`
	Response   string `json:"response,omitempty"`
	Error      string `json:"error,omitempty"`
}

// captured is one request read back from a capture file.
type captured struct {
	method, uri string
	header      http.Header
	body        []byte
}

// readCapture reads a raw HTTP request file with the parser 'hookd verify' uses.
func readCapture(name string) (*captured, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	h, body, _, err := parseCapturedRequest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &captured{method: http.MethodPost, uri: "/", header: h, body: body}
	if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data))); err == nil {
		c.method, c.uri = req.Method, req.RequestURI
	}
	return c, nil
}

func runReplay(cmd *cobra.Command, f *replayFlags, files []string) error {
	if f.to == "" {
		return withCode(exitUsage, errRequired("to"))
	}
	to, err := url.Parse(f.to)
	if err != nil || (to.Scheme != "http" && to.Scheme != "https") || to.Host == "" {
		return withCode(exitUsage, fmt.Errorf("--to: %q is not an http:// or https:// URL", f.to))
	}
	var signer *webhook.Signer
	var profile webhook.Profile
	if f.resign {
		if profile, err = webhook.LookupProfile(f.profile); err != nil {
			return withCode(exitUsage, fmt.Errorf("--profile: %w", err))
		}
		if len(f.secrets) == 0 {
			return withCode(exitUsage, errors.New("--resign needs --secret (or HOOKD_SECRET)"))
		}
		if signer, err = webhook.NewSigner(profile, f.secrets...); err != nil {
			return withCode(exitUsage, fmt.Errorf("--secret: %w", err))
		}
	} else if len(f.secrets) > 0 && cmd.Flags().Changed("secret") {
		return withCode(exitUsage, errors.New("--secret signs only with --resign"))
	}
	// Read them all first, so a bad file is a usage error before anything is sent.
	caps := make([]*captured, len(files))
	for i, name := range files {
		if caps[i], err = readCapture(name); err != nil {
			return withCode(exitUsage, err)
		}
	}
	client := &http.Client{Timeout: f.timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	out := cmd.OutOrStdout()
	var failed, broken int
	for i, c := range caps {
		res := replayOne(client, to, c, signer, profile)
		res.File = files[i]
		switch {
		case res.Error != "":
			broken++
		case res.Status < 200 || res.Status > 299:
			failed++
		}
		if f.json {
			b, _ := json.Marshal(res)
			fmt.Fprintf(out, "%s\n", b)
		} else if res.Error != "" {
			fmt.Fprintf(out, "%s → %s: %s\n", res.File, res.URL, res.Error)
		} else {
			fmt.Fprintf(out, "%s → %s: %d %s (%d ms) %q\n", res.File, res.URL, res.Status, http.StatusText(res.Status), res.DurationMs, truncate(res.Response, 80))
		}
		if len(caps) >= 20 && (i+1)%10 == 0 {
			progress(cmd, "replayed %d of %d", i+1, len(caps))
		}
	}
	switch {
	case broken > 0:
		return withCode(exitError, fmt.Errorf("%d of %d requests could not be sent", broken, len(caps)))
	case failed > 0:
		return withCode(exitFailure, fmt.Errorf("%d of %d answers were not 2xx", failed, len(caps)))
	}
	return nil
}

// replayOne sends one captured request.
func replayOne(client *http.Client, to *url.URL, c *captured, signer *webhook.Signer, p webhook.Profile) replayResult {
	target := *to
	if target.Path == "" || target.Path == "/" {
		if u, err := url.ParseRequestURI(c.uri); err == nil {
			target.Path, target.RawPath = u.Path, u.RawPath
			if target.RawQuery == "" {
				target.RawQuery = u.RawQuery
			}
		}
	}
	res := replayResult{URL: target.String(), Resigned: signer != nil}
	req, err := http.NewRequest(c.method, target.String(), bytes.NewReader(c.body))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	for k, vs := range c.header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		req.Header[k] = append([]string(nil), vs...)
	}
	res.ID = firstHeader(c.header, "webhook-id", "svix-id")
	if signer != nil {
		id := c.header.Get(p.IDHeader)
		if id == "" {
			id = res.ID
		}
		for _, h := range []string{p.IDHeader, p.TimestampHeader, p.SignatureHeader} {
			if h != "" {
				req.Header.Del(h)
			}
		}
		signer.Sign(req.Header, id, time.Now(), c.body)
		res.ID = id
	}
	start := time.Now()
	resp, err := client.Do(req)
	res.DurationMs = time.Since(start).Milliseconds()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res.Status, res.Response = resp.StatusCode, strings.TrimSpace(string(b))
	return res
}

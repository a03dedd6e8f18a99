package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/webhook"
)

type verifyFlags struct {
	webhookFlags
	signature       string
	tolerance       time.Duration
	ignoreTimestamp bool
	now             string
}

func newVerifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify a webhook's signature",
		Long: `Verify a webhook the way a receiver using hookd's webhook package does.

Headers and body come from a captured request (--request-file: a raw HTTP request
with request line, headers, blank line and body, or just the headers; - reads standard
input) or from flags (--id, --timestamp, --signature with --body or --body-file);
flags override the file's headers and body, so the headers 'hookd sign' prints can be
piped in with the body given by flag.

A captured request is usually older than the 5 minute tolerance: add
--ignore-timestamp to check only its signature, or --now to check it as of a time.

Exit codes: 0 valid, 1 invalid (signature, timestamp or headers), 2 usage error.`,
		Example: `  hookd verify --secret whsec_… --request-file captured.http --ignore-timestamp
  hookd verify --secret whsec_… --id msg_1 --timestamp 1674087231 \
      --signature 'v1,…' --body-file payload.json --json
  hookd sign --secret whsec_… --body-file payload.json |
      hookd verify --secret whsec_… --body-file payload.json --request-file -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd, &f, time.Now())
		},
	}
	f.register(cmd.Flags(), "verify")
	cmd.Flags().StringVar(&f.signature, "signature", "", "signature header value (v1,… for standard)")
	cmd.Flags().DurationVar(&f.tolerance, "tolerance", webhook.DefaultTolerance, "how far the signed timestamp may be from now")
	cmd.Flags().BoolVar(&f.ignoreTimestamp, "ignore-timestamp", false, "check the signature only, not the timestamp's age")
	cmd.Flags().StringVar(&f.now, "now", "", "check the timestamp as of this time (Unix seconds or RFC 3339) instead of now")
	return cmd
}

// verifyResult is verify's JSON output.
type verifyResult struct {
	Valid     bool   `json:"valid"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
	Hint      string `json:"hint,omitempty"`
	Profile   string `json:"profile"`
	ID        string `json:"id,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"`
	BodyBytes int    `json:"bodyBytes"`
}

// verifyReason names the failure reason in JSON output.
func verifyReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{webhook.ErrMissingHeaders, "missing_headers"},
		{webhook.ErrInvalidHeader, "invalid_header"},
		{webhook.ErrInvalidTimestamp, "invalid_timestamp"},
		{webhook.ErrInvalidSignature, "invalid_signature"},
		{webhook.ErrTimestampTooOld, "timestamp_too_old"},
		{webhook.ErrTimestampTooNew, "timestamp_too_new"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "error"
}

func runVerify(cmd *cobra.Command, f *verifyFlags, now time.Time) error {
	in, err := f.load(cmd.Flags(), cmd.InOrStdin(), "verify")
	if err != nil {
		return withCode(exitUsage, err)
	}
	p := in.profile
	h := in.header
	if f.id != "" {
		h.Set(p.IDHeader, f.id)
	}
	if f.timestamp != "" {
		ts, err := parseCLITimestamp(f.timestamp, now)
		if err != nil {
			return withCode(exitUsage, err)
		}
		h.Set(p.TimestampHeader, formatUnix(ts))
	}
	if f.signature != "" {
		h.Set(p.SignatureHeader, f.signature)
	}
	if f.now != "" {
		if now, err = parseCLITimestamp(f.now, now); err != nil {
			return withCode(exitUsage, fmt.Errorf("--now: %w", err))
		}
	}
	opts := []webhook.VerifyOption{webhook.WithTolerance(f.tolerance), webhook.WithClock(func() time.Time { return now })}
	if f.ignoreTimestamp {
		opts = append(opts, webhook.WithoutTimestampCheck())
	}
	v, err := webhook.NewVerifier(p, in.secrets, opts...)
	if err != nil {
		if errors.Is(err, webhook.ErrInvalidOption) {
			return withCode(exitUsage, fmt.Errorf("--tolerance: %w", err))
		}
		return withCode(exitUsage, fmt.Errorf("--secret: %w", err))
	}

	msg, verr := v.VerifyMessage(h, in.body)
	res := verifyResult{Valid: verr == nil, Profile: p.Name, ID: msg.ID, BodyBytes: len(in.body)}
	if verr == nil && !msg.Timestamp.IsZero() {
		res.Timestamp = msg.Timestamp.Unix()
	}
	if verr != nil {
		res.ID = h.Get(p.IDHeader)
		res.Error = verr.Error()
		res.Hint = verifyHint(verr, f, in, now)
		res.Reason = verifyReason(verr)
	}

	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return withCode(exitError, err)
		}
	} else if verr == nil {
		fmt.Fprintf(out, "valid: profile %s", p.Name)
		if msg.ID != "" {
			fmt.Fprintf(out, ", id %s", msg.ID)
		}
		if !msg.Timestamp.IsZero() {
			fmt.Fprintf(out, ", signed %s", msg.Timestamp.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(out, ", %d-byte body\n", len(in.body))
	}
	if verr != nil {
		return withCode(exitFailure, fmt.Errorf("invalid: %w\n%s", verr, res.Hint))
	}
	return nil
}

// verifyHint says what to try after a failed verification.
func verifyHint(err error, f *verifyFlags, in *webhookInput, now time.Time) string {
	p := in.profile
	switch {
	case errors.Is(err, webhook.ErrTimestampTooOld), errors.Is(err, webhook.ErrTimestampTooNew):
		return "The signed timestamp is outside the tolerance (" + f.tolerance.String() + ") around " +
			now.UTC().Format(time.RFC3339) + ". To check only the signature of a captured request, add --ignore-timestamp."
	case errors.Is(err, webhook.ErrMissingHeaders):
		return fmt.Sprintf("Pass --id, --timestamp and --signature, or a --request-file whose headers include %s, %s and %s (profile %s).",
			p.IDHeader, p.TimestampHeader, p.SignatureHeader, p.Name)
	case errors.Is(err, webhook.ErrInvalidSignature):
		return fmt.Sprintf("Check the secret and the profile (--profile %s). The body must be byte for byte what was signed: "+
			"%d bytes were read from %s (a trailing newline added by an editor breaks the signature).", p.Name, len(in.body), in.bodyFrom)
	case errors.Is(err, webhook.ErrInvalidTimestamp), errors.Is(err, webhook.ErrInvalidHeader):
		return "The headers are malformed; compare them with the output of 'hookd sign' for the same profile."
	}
	return ""
}

package main

import (
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var endpointColumns = cols("ID", "id", "UID", "uid", "URL", "url", "EVENTS", "filterTypes", "CHANNELS", "channels", "DISABLED", "disabled", "CREATED", "createdAt")

// endpointFields are the flags create and update share.
type endpointFields struct {
	url, uid, description, secret, profile string
	payloadFilter, fifoOnExhausted         string
	events, channels, metadata             []string
	disabled, fifo                         bool
	rateLimit                              int32
	maxConcurrency                         int
	timeout                                time.Duration
}

func (f *endpointFields) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.uid, "uid", "", "your own unique identifier within the application")
	fs.StringVar(&f.description, "description", "", "description")
	fs.StringSliceVar(&f.events, "events", nil, "only these event types (filterTypes; comma-separated or repeated)")
	fs.StringSliceVar(&f.channels, "channels", nil, "only messages on these channels")
	fs.StringArrayVar(&f.metadata, "metadata", nil, "KEY=VALUE metadata (repeatable)")
	fs.BoolVar(&f.disabled, "disabled", false, "disable (or with =false enable) the endpoint")
	fs.Int32Var(&f.rateLimit, "rate-limit", 0, "deliveries per second to the endpoint")
	fs.StringVar(&f.secret, "secret", "", "signing secret (whsec_…); generated if not given")
	fs.StringVar(&f.profile, "signature-profile", "", "signature profile (hookd extension): standard, github, stripe, …")
	fs.DurationVar(&f.timeout, "timeout", 0, "request timeout (hookd extension), e.g. 5s")
	fs.IntVar(&f.maxConcurrency, "max-concurrency", 0, "most requests in flight to the endpoint from all nodes (hookd extension; 0: the server's --endpoint-concurrency)")
	fs.StringVar(&f.payloadFilter, "payload-filter", "", `only messages whose payload matches this filter (hookd extension; docs/filters.md), as JSON or @FILE, e.g. '{"path":"data.amount","gt":100}'; null removes it`)
	fs.BoolVar(&f.fifo, "fifo", false, "ordered delivery (hookd extension): each message only after the one before it of its ordering key")
	fs.StringVar(&f.fifoOnExhausted, "fifo-on-exhausted", "", "what an ordered endpoint does when a message fails for good (hookd extension): skip or stop")
}

func (f *endpointFields) body(fs *pflag.FlagSet) (map[string]any, error) {
	b := map[string]any{}
	set := func(flag, key string, v any) {
		if fs.Changed(flag) {
			b[key] = v
		}
	}
	set("endpoint-url", "url", f.url)
	set("uid", "uid", f.uid)
	set("description", "description", f.description)
	set("events", "filterTypes", f.events)
	set("channels", "channels", f.channels)
	set("disabled", "disabled", f.disabled)
	set("rate-limit", "rateLimit", f.rateLimit)
	set("secret", "secret", f.secret)
	set("signature-profile", "signatureProfile", f.profile)
	set("timeout", "timeoutMs", f.timeout.Milliseconds())
	set("max-concurrency", "maxConcurrency", f.maxConcurrency)
	if fs.Changed("payload-filter") {
		pf, err := jsonFlagValue("payload-filter", f.payloadFilter, readFile)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		b["payloadFilter"] = pf
	}
	set("fifo", "fifo", f.fifo)
	set("fifo-on-exhausted", "fifoOnExhausted", f.fifoOnExhausted)
	if fs.Changed("metadata") {
		m, err := keyValues("metadata", f.metadata)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		b["metadata"] = m
	}
	return b, nil
}

// endpointPath is the API path of one endpoint, after checking --app.
func endpointPath(app, ep string) (string, error) {
	if err := requireApp(app); err != nil {
		return "", err
	}
	return appPath(app) + "/endpoint/" + pathEscape(ep), nil
}

func newEndpointCmd() *cobra.Command {
	var (
		app            string
		create, update endpointFields
		rotateKey      string
		grace          time.Duration
		window         timeWindow
		replayTypes    []string
		replayChannel  string
		setHeaders     []string
		delHeaders     []string
	)
	appFlag := func(fs *pflag.FlagSet) { fs.StringVar(&app, "app", "", "application ID or uid (required)") }
	withApp := func(more func(fs *pflag.FlagSet)) func(fs *pflag.FlagSet) {
		return func(fs *pflag.FlagSet) {
			appFlag(fs)
			if more != nil {
				more(fs)
			}
		}
	}
	fieldFlags := func(f *endpointFields) func(fs *pflag.FlagSet) {
		return withApp(func(fs *pflag.FlagSet) {
			f.register(fs)
			// --url is the server's URL on every API command, so the endpoint's is
			// --endpoint-url.
			fs.StringVar(&f.url, "endpoint-url", "", "the endpoint's URL, where webhooks are sent")
		})
	}
	// one runs a request on one endpoint and prints the answer.
	one := func(method, suffix string, body func(r *apiRun) (any, error), print func(r *apiRun, data []byte) error) func(r *apiRun) error {
		return func(r *apiRun) error {
			p, err := endpointPath(app, r.args[0])
			if err != nil {
				return err
			}
			var b any
			if body != nil {
				if b, err = body(r); err != nil {
					return err
				}
			}
			data, err := r.c.do(r.cmd.Context(), method, p+suffix, nil, b)
			if err != nil {
				return err
			}
			if print == nil {
				return r.printOne(data, endpointColumns)
			}
			return print(r, data)
		}
	}
	return groupCmd("endpoint", "Manage an application's endpoints", `  hookd endpoint list --app acme
  hookd endpoint create --app acme --endpoint-url https://example.com/webhooks --events invoice.paid`,
		newAPICmd(apiSpec{
			use: "list", short: "List an application's endpoints", list: true, flags: withApp(nil),
			example: `  hookd endpoint list --app acme
  hookd endpoint list --app acme --all --json`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				return r.printList(appPath(app)+"/endpoint", nil, endpointColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "get ENDPOINT", short: "Show one endpoint (by ID or uid)", args: cobra.ExactArgs(1), flags: withApp(nil),
			example: `  hookd endpoint get main --app acme --json`,
			run:     one("GET", "", nil, nil),
		}),
		newAPICmd(apiSpec{
			use: "create", short: "Create an endpoint", flags: fieldFlags(&create),
			example: `  hookd endpoint create --app acme --endpoint-url https://example.com/webhooks \
      --uid main --events invoice.paid,invoice.failed`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				if !r.cmd.Flags().Changed("endpoint-url") {
					return withCode(exitUsage, errRequired("endpoint-url"))
				}
				body, err := create.body(r.cmd.Flags())
				if err != nil {
					return err
				}
				data, err := r.c.do(r.cmd.Context(), "POST", appPath(app)+"/endpoint", nil, body)
				if err != nil {
					return err
				}
				return r.printOne(data, endpointColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "update ENDPOINT", short: "Change an endpoint's fields (only those given)", args: cobra.ExactArgs(1), flags: fieldFlags(&update),
			example: `  hookd endpoint update main --app acme --disabled=false
  hookd endpoint update main --app acme --events invoice.paid --rate-limit 10`,
			run: one("PATCH", "", func(r *apiRun) (any, error) { return update.body(r.cmd.Flags()) }, nil),
		}),
		newAPICmd(apiSpec{
			use: "delete ENDPOINT", short: "Delete an endpoint", args: cobra.ExactArgs(1), flags: withApp(nil),
			example: `  hookd endpoint delete main --app acme`,
			run: one("DELETE", "", nil, func(r *apiRun, data []byte) error {
				return r.done(data, "deleted endpoint %s", r.args[0])
			}),
		}),
		newAPICmd(apiSpec{
			use: "secret ENDPOINT", short: "Print an endpoint's signing secret", args: cobra.ExactArgs(1), flags: withApp(nil),
			example: `  hookd endpoint secret main --app acme
  export WEBHOOK_SECRET=$(hookd endpoint secret main --app acme)`,
			run: one("GET", "/secret", nil, printSecret),
		}),
		newAPICmd(apiSpec{
			use: "rotate-secret ENDPOINT", short: "Give an endpoint a new signing secret", args: cobra.ExactArgs(1),
			long: `rotate-secret gives the endpoint a new signing secret (generated, or --key). The old
one keeps signing alongside it for the grace period (the server's --rotation-grace,
24 h by default, or --grace), so receivers can switch without losing a webhook.`,
			flags: withApp(func(fs *pflag.FlagSet) {
				fs.StringVar(&rotateKey, "key", "", "the new secret (whsec_…); generated if not given")
				fs.DurationVar(&grace, "grace", 0, "how long the old secret keeps signing (default: the server's)")
			}),
			example: `  hookd endpoint rotate-secret main --app acme
  hookd endpoint rotate-secret main --app acme --grace 1h`,
			run: one("POST", "/secret/rotate", func(r *apiRun) (any, error) {
				b := map[string]any{}
				if rotateKey != "" {
					b["key"] = rotateKey
				}
				if r.cmd.Flags().Changed("grace") {
					b["gracePeriodSeconds"] = int64(grace.Seconds())
				}
				return b, nil
			}, func(r *apiRun, data []byte) error {
				return r.done(data, "rotated the secret of endpoint %s (see it with 'hookd endpoint secret')", r.args[0])
			}),
		}),
		newAPICmd(apiSpec{
			use: "recover ENDPOINT", short: "Send again every failed delivery of an endpoint since a time", args: cobra.ExactArgs(1),
			long: `recover starts a background task on the server that sends again every failed
delivery of the endpoint in a time window. --wait follows the task to its end,
reporting its progress on stderr.`,
			flags: withApp(func(fs *pflag.FlagSet) { window.register(fs, "recover failures") }),
			example: `  hookd endpoint recover main --app acme --since 24h --wait
  hookd endpoint recover main --app acme --since 2026-01-19T00:00:00Z`,
			run: one("POST", "/recover", func(r *apiRun) (any, error) {
				return window.body(r, "recovering the failed deliveries of endpoint")
			}, func(r *apiRun, data []byte) error { return r.startedTask(data, window.wait) }),
		}),
		newAPICmd(apiSpec{
			use: "replay-missing ENDPOINT", short: "Send an endpoint the messages of a time window it never received", args: cobra.ExactArgs(1),
			long: `replay-missing starts a background task that sends the endpoint every message of
the time window that it matches but never received (for example while it was
disabled). --wait follows the task to its end.`,
			flags:   withApp(func(fs *pflag.FlagSet) { window.register(fs, "replay messages") }),
			example: `  hookd endpoint replay-missing main --app acme --since 48h --wait`,
			run: one("POST", "/replay-missing", func(r *apiRun) (any, error) {
				return window.body(r, "replaying the missing messages to endpoint")
			}, func(r *apiRun, data []byte) error { return r.startedTask(data, window.wait) }),
		}),
		newAPICmd(apiSpec{
			use: "bulk-replay ENDPOINT", short: "Send an endpoint again every message of a time window it was sent", args: cobra.ExactArgs(1),
			long: `bulk-replay starts a background task that sends the endpoint again every message
of the time window that was sent to it, narrowed by --event-types and --channel.
--wait follows the task to its end.`,
			flags: withApp(func(fs *pflag.FlagSet) {
				window.register(fs, "replay messages")
				fs.StringSliceVar(&replayTypes, "event-types", nil, "only messages of these event types")
				fs.StringVar(&replayChannel, "channel", "", "only messages on this channel")
			}),
			example: `  hookd endpoint bulk-replay main --app acme --since 2h --event-types invoice.paid --wait`,
			run: one("POST", "/bulk-replay", func(r *apiRun) (any, error) {
				b, err := window.body(r, "replaying to endpoint")
				if err != nil {
					return nil, err
				}
				if len(replayTypes) > 0 {
					b["eventTypes"] = replayTypes
				}
				if replayChannel != "" {
					b["channel"] = replayChannel
				}
				return b, nil
			}, func(r *apiRun, data []byte) error { return r.startedTask(data, window.wait) }),
		}),
		newAPICmd(apiSpec{
			use: "headers ENDPOINT", short: "Show or change the custom headers sent to an endpoint", args: cobra.ExactArgs(1),
			long: `headers prints the custom headers hookd sends with every request to the endpoint.
--set KEY=VALUE adds or replaces one and --delete NAME removes one (both
repeatable); the others stay as they are.`,
			flags: withApp(func(fs *pflag.FlagSet) {
				fs.StringArrayVar(&setHeaders, "set", nil, "add or replace a header: KEY=VALUE (repeatable)")
				fs.StringArrayVar(&delHeaders, "delete", nil, "remove a header (repeatable)")
			}),
			example: `  hookd endpoint headers main --app acme
  hookd endpoint headers main --app acme --set X-Tenant=acme --delete X-Old`,
			run: func(r *apiRun) error {
				p, err := endpointPath(app, r.args[0])
				if err != nil {
					return err
				}
				if len(setHeaders) > 0 || len(delHeaders) > 0 {
					set, err := keyValues("set", setHeaders)
					if err != nil {
						return withCode(exitUsage, err)
					}
					body := map[string]any{"headers": set}
					if set == nil {
						body["headers"] = map[string]string{}
					}
					if len(delHeaders) > 0 {
						body["deleteHeaders"] = delHeaders
					}
					if _, err := r.c.do(r.cmd.Context(), "PATCH", p+"/headers", nil, body); err != nil {
						return err
					}
				}
				data, err := r.c.do(r.cmd.Context(), "GET", p+"/headers", nil, nil)
				if err != nil {
					return err
				}
				if r.json {
					return writeJSON(r.cmd.OutOrStdout(), data)
				}
				var h struct {
					Headers map[string]string `json:"headers"`
				}
				if err := jsonUnmarshal(data, &h); err != nil {
					return err
				}
				tw := tabwriter.NewWriter(r.cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HEADER\tVALUE")
				for _, k := range slices.Sorted(maps.Keys(h.Headers)) {
					fmt.Fprintf(tw, "%s\t%s\n", k, h.Headers[k])
				}
				return tw.Flush()
			},
		}),
		newAPICmd(apiSpec{
			use: "stats ENDPOINT", short: "Count an endpoint's deliveries by status", args: cobra.ExactArgs(1), flags: withApp(nil),
			example: `  hookd endpoint stats main --app acme`,
			run: one("GET", "/stats", nil, func(r *apiRun, data []byte) error {
				return r.printOne(data, cols("SUCCESS", "success", "PENDING", "pending", "SENDING", "sending", "FAIL", "fail"))
			}),
		}),
	)
}

func printSecret(r *apiRun, data []byte) error {
	if r.json {
		return writeJSON(r.cmd.OutOrStdout(), data)
	}
	var s struct {
		Key string `json:"key"`
	}
	if err := jsonUnmarshal(data, &s); err != nil {
		return err
	}
	fmt.Fprintln(r.cmd.OutOrStdout(), s.Key)
	return nil
}

// parseSince reads a time as RFC 3339 or as a duration before now.
func parseSince(flag, v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, withCode(exitUsage, fmt.Errorf("--%s: %q is neither RFC 3339 (2026-01-19T00:00:00Z) nor a duration (24h)", flag, v))
	}
	return t, nil
}

// timeWindow is the --since, --until and --wait of the operations that start a
// background task.
type timeWindow struct {
	since, until string
	wait         bool
}

func (w *timeWindow) register(fs *pflag.FlagSet, what string) {
	fs.StringVar(&w.since, "since", "", what+" since this time: RFC 3339 or a duration ago like 24h (required)")
	fs.StringVar(&w.until, "until", "", "and until this time (default now)")
	fs.BoolVar(&w.wait, "wait", false, "follow the task to its end, reporting its progress")
}

// body returns {"since", "until"} and says on stderr what starts.
func (w *timeWindow) body(r *apiRun, doing string) (map[string]any, error) {
	if w.since == "" {
		return nil, withCode(exitUsage, errRequired("since"))
	}
	s, err := parseSince("since", w.since)
	if err != nil {
		return nil, err
	}
	b := map[string]any{"since": s}
	if w.until != "" {
		u, err := parseSince("until", w.until)
		if err != nil {
			return nil, err
		}
		b["until"] = u
	}
	progress(r.cmd, "%s %s since %s…", doing, r.args[0], s.Format(time.RFC3339))
	return b, nil
}

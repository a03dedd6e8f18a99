package main

import (
	"errors"
	"net/url"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var attemptColumns = cols("ID", "id", "MESSAGE", "msgId", "ENDPOINT", "endpointId", "HTTP", "responseStatusCode", "STATUS", "status", "MS", "responseDurationMs", "TIMESTAMP", "timestamp")

func newAttemptCmd() *cobra.Command {
	var app, msg, endpoint, status string
	return groupCmd("attempt", "Inspect delivery attempts", `  hookd attempt list --app acme --endpoint main
  hookd attempt list --app acme --msg msg_2Qh…`,
		newAPICmd(apiSpec{
			use: "list", short: "List the attempts of a message or of an endpoint, newest first", list: true,
			long: `list shows delivery attempts: those of one message (--msg), of one endpoint
(--endpoint), or of one message to one endpoint (both). STATUS is 0 for success,
1 pending, 2 failed, 3 sending.`,
			flags: func(fs *pflag.FlagSet) {
				fs.StringVar(&app, "app", "", "application ID or uid (required)")
				fs.StringVar(&msg, "msg", "", "message ID")
				fs.StringVar(&endpoint, "endpoint", "", "endpoint ID or uid")
				fs.StringVar(&status, "status", "", "only attempts with this status (0 success, 1 pending, 2 failed, 3 sending)")
			},
			example: `  hookd attempt list --app acme --endpoint main --all
  hookd attempt list --app acme --msg msg_2Qh… --json`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				q := url.Values{}
				if status != "" {
					q.Set("status", status)
				}
				var path string
				switch {
				case msg != "" && endpoint != "":
					path = appPath(app) + "/msg/" + pathEscape(msg) + "/endpoint/" + pathEscape(endpoint) + "/attempt"
				case msg != "":
					path = appPath(app) + "/attempt/msg/" + pathEscape(msg)
				case endpoint != "":
					path = appPath(app) + "/attempt/endpoint/" + pathEscape(endpoint)
				default:
					return withCode(exitUsage, errors.New("give --msg, --endpoint or both"))
				}
				return r.printList(path, q, attemptColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "get ATTEMPT", short: "Show one attempt with the receiver's answer", args: cobra.ExactArgs(1),
			flags: func(fs *pflag.FlagSet) {
				fs.StringVar(&app, "app", "", "application ID or uid (required)")
				fs.StringVar(&msg, "msg", "", "message ID (required)")
			},
			example: `  hookd attempt get atmpt_2Qh… --app acme --msg msg_2Qh…`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				if msg == "" {
					return withCode(exitUsage, errRequired("msg"))
				}
				data, err := r.c.do(r.cmd.Context(), "GET", appPath(app)+"/msg/"+pathEscape(msg)+"/attempt/"+pathEscape(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				return r.printOne(data, append(attemptColumns, column{"URL", "url"}, column{"RESPONSE", "response"}))
			},
		}),
	)
}

package main

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var messageColumns = cols("ID", "id", "EVENT TYPE", "eventType", "EVENT ID", "eventId", "CHANNELS", "channels", "TIMESTAMP", "timestamp")

func newMessageCmd() *cobra.Command {
	var (
		app                        string
		eventTypes                 []string
		channel                    string
		sendType, eventID, payload string
		sendChannels               []string
		endpoint, idempotencyKey   string
		orderingKey                string
	)
	appFlag := func(fs *pflag.FlagSet) { fs.StringVar(&app, "app", "", "application ID or uid (required)") }
	return groupCmd("message", "Send and inspect messages", `  hookd message send --app acme --event-type invoice.paid --payload '{"invoice":"in_1"}'
  hookd message list --app acme`,
		newAPICmd(apiSpec{
			use: "list", short: "List an application's messages, newest first", list: true,
			flags: func(fs *pflag.FlagSet) {
				appFlag(fs)
				fs.StringSliceVar(&eventTypes, "event-types", nil, "only these event types")
				fs.StringVar(&channel, "channel", "", "only messages on this channel")
			},
			example: `  hookd message list --app acme --event-types invoice.paid --limit 10`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				q := url.Values{}
				for _, t := range eventTypes {
					q.Add("event_types", t)
				}
				if channel != "" {
					q.Set("channel", channel)
				}
				return r.printList(appPath(app)+"/msg", q, messageColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "get MESSAGE", short: "Show one message with its payload", args: cobra.ExactArgs(1), flags: appFlag,
			example: `  hookd message get msg_2Qh… --app acme --json`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				data, err := r.c.do(r.cmd.Context(), "GET", appPath(app)+"/msg/"+pathEscape(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				return r.printOne(data, append(messageColumns, column{"PAYLOAD", "payload"}))
			},
		}),
		newAPICmd(apiSpec{
			use: "send", short: "Send a message to every matching endpoint of an application",
			flags: func(fs *pflag.FlagSet) {
				appFlag(fs)
				fs.StringVar(&sendType, "event-type", "", "event type (required)")
				fs.StringVar(&payload, "payload", "", "JSON payload, or @FILE (@- reads standard input) (required)")
				fs.StringVar(&eventID, "event-id", "", "your idempotency key for the event: a second message with it is refused")
				fs.StringSliceVar(&sendChannels, "channels", nil, "channels of the message")
				fs.StringVar(&idempotencyKey, "idempotency-key", "", "Idempotency-Key header: a retried send returns the first answer")
				fs.StringVar(&orderingKey, "ordering-key", "", "ordering key (hookd extension): FIFO endpoints keep order per key")
			},
			example: `  hookd message send --app acme --event-type invoice.paid --payload '{"invoice":"in_1","amount":1200}'
  hookd message send --app acme --event-type invoice.paid --payload @invoice.json --event-id evt_1`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				if sendType == "" {
					return withCode(exitUsage, errRequired("event-type"))
				}
				if payload == "" {
					return withCode(exitUsage, errRequired("payload"))
				}
				p, err := jsonFlagValue("payload", payload, readFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				body := map[string]any{"eventType": sendType, "payload": p}
				if r.cmd.Flags().Changed("ordering-key") {
					body["orderingKey"] = orderingKey
				}
				data, err := sendMessageBody(r, app, body, eventID, sendChannels, idempotencyKey)
				if err != nil {
					return err
				}
				return r.printOne(data, messageColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "resend MESSAGE", short: "Deliver a message to one endpoint again, now", args: cobra.ExactArgs(1),
			flags: func(fs *pflag.FlagSet) {
				appFlag(fs)
				fs.StringVar(&endpoint, "endpoint", "", "endpoint ID or uid (required)")
			},
			example: `  hookd message resend msg_2Qh… --app acme --endpoint main`,
			run: func(r *apiRun) error {
				if err := requireApp(app); err != nil {
					return err
				}
				if endpoint == "" {
					return withCode(exitUsage, errRequired("endpoint"))
				}
				data, err := r.c.do(r.cmd.Context(), "POST", appPath(app)+"/msg/"+pathEscape(r.args[0])+"/endpoint/"+pathEscape(endpoint)+"/resend", nil, nil)
				if err != nil {
					return err
				}
				return r.done(data, "resending message %s to endpoint %s", r.args[0], endpoint)
			},
		}),
	)
}

// sendMessage posts a message and returns the API's answer.
func sendMessage(r *apiRun, app, eventType, eventID string, channels []string, payload json.RawMessage, idemKey string) ([]byte, error) {
	return sendMessageBody(r, app, map[string]any{"eventType": eventType, "payload": payload}, eventID, channels, idemKey)
}

// sendMessageBody posts body as a message, with eventId and channels if given.
func sendMessageBody(r *apiRun, app string, body map[string]any, eventID string, channels []string, idemKey string) ([]byte, error) {
	if eventID != "" {
		body["eventId"] = eventID
	}
	if len(channels) > 0 {
		body["channels"] = channels
	}
	c := r.c
	if idemKey != "" {
		c = c.withHeader("Idempotency-Key", strings.TrimSpace(idemKey))
	}
	return c.do(r.cmd.Context(), "POST", appPath(app)+"/msg", nil, body)
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newTriggerCmd() *cobra.Command {
	var (
		app, payload, eventID, endpoint string
		index                           int
		channels                        []string
	)
	return newAPICmd(apiSpec{
		use:   "trigger EVENT_TYPE",
		short: "Send an event type's example as a message",
		long: `trigger sends a message of EVENT_TYPE to the application's endpoints through the
normal message API, with the example of the event type's JSON Schema as its payload:
the newest schema version's "examples" (--example-index picks one, default the first)
or "example". --payload sends another payload instead.

With --endpoint, the example goes to that one endpoint alone, whatever its filters,
through the server's send-example operation (Svix's; --payload does not apply).`,
		args: cobra.ExactArgs(1),
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&app, "app", "", "application ID or uid (required)")
			fs.IntVar(&index, "example-index", 0, "which of the schema's examples to send")
			fs.StringVar(&payload, "payload", "", "send this JSON payload (or @FILE) instead of the example")
			fs.StringVar(&eventID, "event-id", "", "the message's eventId")
			fs.StringSliceVar(&channels, "channels", nil, "channels of the message")
			fs.StringVar(&endpoint, "endpoint", "", "send the example to this endpoint only (ID or uid)")
		},
		example: `  hookd trigger invoice.paid --app acme
  hookd trigger invoice.paid --app acme --example-index 1 --json
  hookd trigger invoice.paid --app acme --endpoint main`,
		run: func(r *apiRun) error {
			if err := requireApp(app); err != nil {
				return err
			}
			if endpoint != "" {
				if payload != "" || eventID != "" || len(channels) > 0 {
					return withCode(exitUsage, errors.New("--endpoint sends the schema's example: --payload, --event-id and --channels do not apply"))
				}
				data, err := r.c.do(r.cmd.Context(), "POST", appPath(app)+"/endpoint/"+pathEscape(endpoint)+"/send-example", nil,
					map[string]any{"eventType": r.args[0], "exampleIndex": index})
				if err != nil {
					return err
				}
				return r.printOne(data, append(messageColumns, column{"PAYLOAD", "payload"}))
			}
			var p json.RawMessage
			if payload != "" {
				var err error
				if p, err = jsonFlagValue("payload", payload, readFile); err != nil {
					return withCode(exitUsage, err)
				}
			} else {
				data, err := r.c.do(r.cmd.Context(), "GET", "/api/v1/event-type/"+pathEscape(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				if p, err = schemaExample(data, index); err != nil {
					return withCode(exitFailure, fmt.Errorf("event type %s: %w", r.args[0], err))
				}
			}
			data, err := sendMessage(r, app, r.args[0], eventID, channels, p, "")
			if err != nil {
				return err
			}
			return r.printOne(data, append(messageColumns, column{"PAYLOAD", "payload"}))
		},
	})
}

// schemaExample picks the example of an event type's newest schema version.
func schemaExample(eventType []byte, index int) (json.RawMessage, error) {
	var et struct {
		Schemas map[string]struct {
			Examples []json.RawMessage `json:"examples"`
			Example  json.RawMessage   `json:"example"`
		} `json:"schemas"`
	}
	if err := json.Unmarshal(eventType, &et); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	newest, best := "", -1
	for v := range et.Schemas {
		if n, err := strconv.Atoi(v); err == nil && n > best {
			newest, best = v, n
		} else if best < 0 && newest == "" {
			newest = v
		}
	}
	if newest == "" {
		return nil, fmt.Errorf("no schema, so no example to send; give --payload")
	}
	s := et.Schemas[newest]
	switch {
	case len(s.Examples) > index && index >= 0:
		return s.Examples[index], nil
	case len(s.Examples) > 0:
		return nil, fmt.Errorf("--example-index %d: schema version %s has %d examples", index, newest, len(s.Examples))
	case len(s.Example) > 0:
		return s.Example, nil
	}
	return nil, fmt.Errorf("schema version %s has no \"examples\"; give --payload", newest)
}

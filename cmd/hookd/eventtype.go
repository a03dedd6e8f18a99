package main

import (
	"encoding/json"
	"net/url"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var eventTypeColumns = cols("NAME", "name", "DESCRIPTION", "description", "ARCHIVED", "archived", "DEPRECATED", "deprecated", "CREATED", "createdAt")

type eventTypeFields struct {
	description, schema  string
	archived, deprecated bool
	enforceSchema        bool
}

func (f *eventTypeFields) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.description, "description", "", "description")
	fs.StringVar(&f.schema, "schema", "", "JSON Schema of version 1 of the payload, as JSON or @FILE; its \"examples\" feed 'hookd trigger'")
	fs.BoolVar(&f.archived, "archived", false, "archive (or with =false restore) the event type")
	fs.BoolVar(&f.deprecated, "deprecated", false, "mark the event type deprecated")
	fs.BoolVar(&f.enforceSchema, "enforce-schema", false, "refuse messages whose payload the newest schema does not validate (hookd extension; =false stops)")
}

func (f *eventTypeFields) body(fs *pflag.FlagSet) (map[string]any, error) {
	b := map[string]any{}
	if fs.Changed("description") {
		b["description"] = f.description
	}
	if fs.Changed("archived") {
		b["archived"] = f.archived
	}
	if fs.Changed("deprecated") {
		b["deprecated"] = f.deprecated
	}
	if fs.Changed("enforce-schema") {
		b["enforceSchema"] = f.enforceSchema
	}
	if fs.Changed("schema") {
		s, err := jsonFlagValue("schema", f.schema, readFile)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		b["schemas"] = map[string]json.RawMessage{"1": s}
	}
	return b, nil
}

func newEventTypeCmd() *cobra.Command {
	var (
		create, update eventTypeFields
		withArchived   bool
		expunge        bool
	)
	etPath := func(name string) string { return "/api/v1/event-type/" + pathEscape(name) }
	return groupCmd("event-type", "Manage event types", `  hookd event-type list
  hookd event-type create invoice.paid --description "An invoice was paid"`,
		newAPICmd(apiSpec{
			use: "list", short: "List event types", list: true,
			flags: func(fs *pflag.FlagSet) {
				fs.BoolVar(&withArchived, "include-archived", false, "list archived event types too")
			},
			example: `  hookd event-type list --include-archived`,
			run: func(r *apiRun) error {
				q := url.Values{}
				if withArchived {
					q.Set("include_archived", "true")
				}
				return r.printList("/api/v1/event-type", q, eventTypeColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "get NAME", short: "Show one event type", args: cobra.ExactArgs(1),
			example: `  hookd event-type get invoice.paid --json`,
			run: func(r *apiRun) error {
				data, err := r.c.do(r.cmd.Context(), "GET", etPath(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				return r.printOne(data, eventTypeColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "create NAME", short: "Create an event type", args: cobra.ExactArgs(1), flags: create.register,
			example: `  hookd event-type create invoice.paid --description "An invoice was paid" \
      --schema '{"type":"object","examples":[{"invoice":"in_1","amount":1200}]}'`,
			run: func(r *apiRun) error {
				body, err := create.body(r.cmd.Flags())
				if err != nil {
					return err
				}
				body["name"] = r.args[0]
				if _, ok := body["description"]; !ok {
					body["description"] = ""
				}
				data, err := r.c.do(r.cmd.Context(), "POST", "/api/v1/event-type", nil, body)
				if err != nil {
					return err
				}
				return r.printOne(data, eventTypeColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "update NAME", short: "Change an event type's fields (only those given)", args: cobra.ExactArgs(1), flags: update.register,
			example: `  hookd event-type update invoice.paid --deprecated`,
			run: func(r *apiRun) error {
				body, err := update.body(r.cmd.Flags())
				if err != nil {
					return err
				}
				data, err := r.c.do(r.cmd.Context(), "PATCH", etPath(r.args[0]), nil, body)
				if err != nil {
					return err
				}
				return r.printOne(data, eventTypeColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "delete NAME", short: "Archive an event type (--expunge deletes it)", args: cobra.ExactArgs(1),
			flags: func(fs *pflag.FlagSet) {
				fs.BoolVar(&expunge, "expunge", false, "delete it for good instead of archiving it")
			},
			example: `  hookd event-type delete invoice.paid
  hookd event-type delete invoice.paid --expunge`,
			run: func(r *apiRun) error {
				q := url.Values{}
				verb := "archived"
				if expunge {
					q.Set("expunge", "true")
					verb = "deleted"
				}
				data, err := r.c.do(r.cmd.Context(), "DELETE", etPath(r.args[0]), q, nil)
				if err != nil {
					return err
				}
				return r.done(data, "%s event type %s", verb, r.args[0])
			},
		}),
	)
}

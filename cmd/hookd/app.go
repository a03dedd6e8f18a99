package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var appColumns = cols("ID", "id", "UID", "uid", "NAME", "name", "RATE LIMIT", "rateLimit", "CREATED", "createdAt")

// appFields are the flags create and update share.
type appFields struct {
	name, uid string
	rateLimit int32
	metadata  []string
}

func (f *appFields) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "application name")
	fs.StringVar(&f.uid, "uid", "", "your own unique identifier, usable wherever the ID is")
	fs.Int32Var(&f.rateLimit, "rate-limit", 0, "deliveries per second to the whole application")
	fs.StringArrayVar(&f.metadata, "metadata", nil, "KEY=VALUE metadata (repeatable)")
}

// body returns the JSON body of the fields given on the command line.
func (f *appFields) body(fs *pflag.FlagSet) (map[string]any, error) {
	b := map[string]any{}
	if fs.Changed("name") {
		b["name"] = f.name
	}
	if fs.Changed("uid") {
		b["uid"] = f.uid
	}
	if fs.Changed("rate-limit") {
		b["rateLimit"] = f.rateLimit
	}
	if fs.Changed("metadata") {
		m, err := keyValues("metadata", f.metadata)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		b["metadata"] = m
	}
	return b, nil
}

func newAppCmd() *cobra.Command {
	var create, update appFields
	return groupCmd("app", "Manage applications (your customers)", `  hookd app list
  hookd app create --name "Acme Corp" --uid acme`,
		newAPICmd(apiSpec{
			use: "list", short: "List applications", list: true,
			example: `  hookd app list
  hookd app list --all --json | jq -r '.data[].id'`,
			run: func(r *apiRun) error { return r.printList("/api/v1/app", nil, appColumns) },
		}),
		newAPICmd(apiSpec{
			use: "get APP", short: "Show one application (by ID or uid)", args: cobra.ExactArgs(1),
			example: `  hookd app get acme
  hookd app get app_2Qh… --json`,
			run: func(r *apiRun) error {
				data, err := r.c.do(r.cmd.Context(), "GET", "/api/v1/app/"+pathEscape(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				return r.printOne(data, appColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "create", short: "Create an application",
			example: `  hookd app create --name "Acme Corp" --uid acme --metadata plan=pro`,
			flags:   create.register,
			run: func(r *apiRun) error {
				if !r.cmd.Flags().Changed("name") {
					return withCode(exitUsage, errRequired("name"))
				}
				body, err := create.body(r.cmd.Flags())
				if err != nil {
					return err
				}
				data, err := r.c.do(r.cmd.Context(), "POST", "/api/v1/app", nil, body)
				if err != nil {
					return err
				}
				return r.printOne(data, appColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "update APP", short: "Change an application's fields (only those given)", args: cobra.ExactArgs(1),
			example: `  hookd app update acme --name "Acme Inc."`,
			flags:   update.register,
			run: func(r *apiRun) error {
				body, err := update.body(r.cmd.Flags())
				if err != nil {
					return err
				}
				data, err := r.c.do(r.cmd.Context(), "PATCH", "/api/v1/app/"+pathEscape(r.args[0]), nil, body)
				if err != nil {
					return err
				}
				return r.printOne(data, appColumns)
			},
		}),
		newAPICmd(apiSpec{
			use: "delete APP", short: "Delete an application and everything in it", args: cobra.ExactArgs(1),
			example: `  hookd app delete acme`,
			run: func(r *apiRun) error {
				data, err := r.c.do(r.cmd.Context(), "DELETE", "/api/v1/app/"+pathEscape(r.args[0]), nil, nil)
				if err != nil {
					return err
				}
				return r.done(data, "deleted application %s", r.args[0])
			},
		}),
	)
}

// readFile is os.ReadFile, with "-" for standard input.
func readFile(name string) ([]byte, error) {
	if name == "-" {
		return readAllStdin()
	}
	return os.ReadFile(name)
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// apiRun is what an API command's body gets: the client, the arguments and how to
// print.
type apiRun struct {
	cmd  *cobra.Command
	c    *apiClient
	args []string
	json bool
	list listFlags
}

// apiSpec declares one API command.
type apiSpec struct {
	use, short, long, example string
	args                      cobra.PositionalArgs
	// list adds --limit, --all and --iterator.
	list bool
	// flags adds the command's own flags.
	flags func(fs *pflag.FlagSet)
	run   func(r *apiRun) error
}

// newAPICmd builds an API command with the connection flags and --json.
func newAPICmd(s apiSpec) *cobra.Command {
	var (
		conn connFlags
		r    apiRun
	)
	if s.args == nil {
		s.args = cobra.NoArgs
	}
	cmd := &cobra.Command{
		Use: s.use, Short: s.short, Long: s.long, Example: s.example, Args: usageArgs(s.args),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(cmd)
			if err != nil {
				return err
			}
			r.cmd, r.c, r.args = cmd, c, args
			return s.run(&r)
		},
	}
	fs := cmd.Flags()
	conn.register(fs)
	fs.BoolVar(&r.json, "json", false, "print the API's answer as one JSON document")
	if s.list {
		fs.IntVar(&r.list.limit, "limit", 50, "items per page (the API allows up to 250)")
		fs.BoolVar(&r.list.all, "all", false, "fetch every page, not just the first")
		fs.StringVar(&r.list.iterator, "iterator", "", "start after this iterator (the last page's \"iterator\")")
	}
	if s.flags != nil {
		s.flags(fs)
	}
	return cmd
}

// usageArgs makes a wrong argument count a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		var ce *codedError
		if errors.As(err, &ce) {
			return err // already a usage error
		}
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
		}
		return nil
	}
}

// groupCmd is a command that only holds subcommands (app, endpoint, …).
func groupCmd(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Example: example, Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	cmd.AddCommand(subs...)
	return cmd
}

// column is one field shown in text output.
type column struct {
	title string
	key   string // a top-level JSON field
}

func cols(spec ...string) []column {
	out := make([]column, 0, len(spec)/2)
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, column{title: spec[i], key: spec[i+1]})
	}
	return out
}

// listFlags are the pagination flags.
type listFlags struct {
	limit    int
	all      bool
	iterator string
}

// page is one page of a list answer.
type page struct {
	Data     []json.RawMessage `json:"data"`
	Done     bool              `json:"done"`
	Iterator *string           `json:"iterator"`
	Prev     *string           `json:"prevIterator,omitempty"`
}

// printList lists path, one page or (--all) every page, as a table or one JSON document.
func (r *apiRun) printList(path string, query url.Values, columns []column) error {
	if r.list.limit < 1 {
		return withCode(exitUsage, fmt.Errorf("--limit: %d is not a positive number", r.list.limit))
	}
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", strconv.Itoa(r.list.limit))
	if r.list.iterator != "" {
		query.Set("iterator", r.list.iterator)
	}
	var all page
	for n := 1; ; n++ {
		data, err := r.c.do(r.cmd.Context(), "GET", path, query, nil)
		if err != nil {
			return err
		}
		if !r.list.all {
			if r.json {
				return writeJSON(r.cmd.OutOrStdout(), data)
			}
			var p page
			if err := json.Unmarshal(data, &p); err != nil {
				return withCode(exitError, fmt.Errorf("decode answer: %w", err))
			}
			if err := printTable(r.cmd.OutOrStdout(), p.Data, columns); err != nil {
				return err
			}
			if !p.Done && p.Iterator != nil {
				fmt.Fprintf(r.cmd.ErrOrStderr(), "more: --iterator %s for the next page, or --all\n", *p.Iterator)
			}
			return nil
		}
		var p page
		if err := json.Unmarshal(data, &p); err != nil {
			return withCode(exitError, fmt.Errorf("decode answer: %w", err))
		}
		all.Data = append(all.Data, p.Data...)
		all.Done, all.Iterator = p.Done, p.Iterator
		if p.Done || p.Iterator == nil || len(p.Data) == 0 {
			break
		}
		if n%10 == 0 {
			progress(r.cmd, "fetched %d items (%d pages)…", len(all.Data), n)
		}
		query.Set("iterator", *p.Iterator)
	}
	all.Done = true
	if all.Data == nil {
		all.Data = []json.RawMessage{}
	}
	if r.json {
		b, err := json.Marshal(all)
		if err != nil {
			return err
		}
		return writeJSON(r.cmd.OutOrStdout(), b)
	}
	return printTable(r.cmd.OutOrStdout(), all.Data, columns)
}

// printOne prints one object: its fields in text, or the answer as JSON.
func (r *apiRun) printOne(data []byte, columns []column) error {
	if r.json {
		return writeJSON(r.cmd.OutOrStdout(), data)
	}
	var obj map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		return withCode(exitError, fmt.Errorf("decode answer: %w", err))
	}
	tw := tabwriter.NewWriter(r.cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	for _, c := range columns {
		fmt.Fprintf(tw, "%s:\t%s\n", c.title, cell(obj[c.key]))
	}
	return tw.Flush()
}

// done prints a one-line confirmation, or {} style JSON for scripts.
func (r *apiRun) done(data []byte, format string, args ...any) error {
	if r.json {
		if len(bytes.TrimSpace(data)) == 0 {
			data = []byte("{}")
		}
		return writeJSON(r.cmd.OutOrStdout(), data)
	}
	fmt.Fprintf(r.cmd.OutOrStdout(), format+"\n", args...)
	return nil
}

func printTable(w io.Writer, items []json.RawMessage, columns []column) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	titles := make([]string, len(columns))
	for i, c := range columns {
		titles[i] = c.title
	}
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, raw := range items {
		var obj map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&obj); err != nil {
			return withCode(exitError, fmt.Errorf("decode answer: %w", err))
		}
		row := make([]string, len(columns))
		for i, c := range columns {
			row[i] = cell(obj[c.key])
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// cell renders one JSON value for a table.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && strings.Contains(v, "T") {
			return t.UTC().Format("2006-01-02 15:04:05")
		}
		return strings.ReplaceAll(v, "\n", " ")
	case []any:
		if len(v) == 0 {
			return "-"
		}
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = cell(x)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if len(v) == 0 {
			return "-"
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + cell(v[k])
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

// writeJSON prints a JSON answer indented, as one document.
func writeJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(data), "", "  "); err != nil {
		return withCode(exitError, fmt.Errorf("the server's answer is not JSON: %w", err))
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// progress reports how a long operation is going on standard error.
func progress(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.ErrOrStderr(), "hookd: "+format+"\n", args...)
}

// jsonFlag parses a flag whose value is JSON (a literal, or @FILE).
func jsonFlagValue(name, v string, readFile func(string) ([]byte, error)) (json.RawMessage, error) {
	data := []byte(v)
	if strings.HasPrefix(v, "@") {
		b, err := readFile(v[1:])
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
		data = b
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("--%s: not valid JSON", name)
	}
	return json.RawMessage(bytes.TrimSpace(data)), nil
}

// keyValues parses repeated KEY=VALUE flags into a map.
func keyValues(name string, kvs []string) (map[string]string, error) {
	if kvs == nil {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s: %q is not KEY=VALUE", name, kv)
		}
		m[k] = v
	}
	return m, nil
}

// errRequired is the usage error of a missing required flag.
func errRequired(flag string) error { return fmt.Errorf("--%s is required", flag) }

func readAllStdin() ([]byte, error) { return io.ReadAll(os.Stdin) }

// appPath is the API path of one application.
func appPath(app string) string { return "/api/v1/app/" + pathEscape(app) }

// requireApp checks --app was given.
func requireApp(app string) error {
	if app == "" {
		return withCode(exitUsage, errRequired("app"))
	}
	return nil
}

// jsonUnmarshal decodes an answer; a body that does not decode exits 3.
func jsonUnmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return withCode(exitError, fmt.Errorf("decode answer: %w", err))
	}
	return nil
}

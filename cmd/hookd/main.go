// Command hookd is the hookd webhook server and its command-line tools.
//
// Run `hookd --help` for the list of commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes. They are part of the CLI's contract.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and the answer is "no" (invalid signature, failed check)
	exitUsage   = 2 // the command line is wrong
	exitError   = 3 // something went wrong while running (I/O, server unreachable, …)
)

// commands returns the subcommands, each defined in a file of its own; a new command
// is a new file and a line here.
func commands() []*cobra.Command {
	return []*cobra.Command{
		newServeCmd(),
		newMigrateCmd(),
		newRotateKeyCmd(),
		newTokenCmd(),
		newLoginCmd(),
		newAppCmd(),
		newEndpointCmd(),
		newEventTypeCmd(),
		newMessageCmd(),
		newAttemptCmd(),
		newTaskCmd(),
		newTriggerCmd(),
		newListenCmd(),
		newReplayCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newBenchCmd(),
	}
}

// codedError carries an exit code out of a command. A wrong command line is one with
// exitUsage: every way cobra reports one (flags, arguments, unknown commands) is
// wrapped in it where it is made, so run never reads an error's text.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// withCode wraps err so that hookd exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hookd",
		Short: "Self-hosted webhook sending service and webhook developer tools",
		Long: `hookd sends webhooks for your application: it accepts events through a
Svix-compatible REST API, fans them out to your customers' endpoints, signs every
request (Standard Webhooks by default), retries on a schedule, disables dead endpoints
and logs every attempt.

The same binary is the API's command-line client (app, endpoint, event-type, message,
attempt, trigger; connection profiles with login) and holds the developer tools: a
local inbox (listen), replay of captured requests, sign and verify.

Every flag can also be set through an environment variable: HOOKD_ followed by the flag
name in upper case with dashes as underscores (--admin-token is HOOKD_ADMIN_TOKEN).`,
		Example: `  hookd serve
  hookd app list
  hookd sign --secret whsec_… --body '{"a":1}'`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("hookd {{.Version}}\n")
	root.AddCommand(commands()...)
	// An unknown command is refused by root's own argument check (which cobra runs only
	// for a runnable command): without one, cobra would report it as an error of no
	// particular type. Run alone, hookd shows its help.
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return withCode(exitUsage, fmt.Errorf("%s\nRun '%s --help' for usage.", msg, cmd.CommandPath()))
	}
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	for _, c := range root.Commands() {
		wrap(c)
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath()))
	})
	return root
}

// bindEnv makes every flag of cmd that was not given on the command line take its value
// from HOOKD_<FLAG_NAME>, if set.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := "HOOKD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := cmd.Flags().Set(f.Name, v); e != nil {
				err = withCode(exitUsage, fmt.Errorf("environment variable %s: %w", name, e))
			}
		}
	})
	return err
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkEnv(root, os.Environ()); err != nil {
			return err
		}
		return bindEnv(cmd)
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "hookd:", err)
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitError
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

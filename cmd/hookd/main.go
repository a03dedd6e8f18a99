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

// commands holds the constructors of the subcommands; each subcommand's file adds its
// own in init, so a new command is one new file.
var commands []func() *cobra.Command

// exitError carries an exit code out of a command.
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
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("hookd {{.Version}}\n")
	for _, c := range commands {
		root.AddCommand(c())
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
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "accepts ") || strings.Contains(err.Error(), "required flag") {
		return exitUsage
	}
	return exitError
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

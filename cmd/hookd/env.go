package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// extraEnv are the HOOKD_ variables that are not a flag's.
var extraEnv = []string{
	"HOOKD_SECRET",        // sign and verify: the secret, kept out of the process list
	"HOOKD_TEST_POSTGRES", // the PostgreSQL the tests use
	"HOOKD_TEST_BIN",      // a prebuilt binary for the end-to-end tests
	"HOOKD_TEST_LONG",     // the fault suite's long form
}

// envName is the variable that sets a flag.
func envName(flag string) string {
	return "HOOKD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// checkEnv refuses a HOOKD_ variable that no command reads: a typo would otherwise
// be ignored silently. Any command's flag counts, so a shell exporting HOOKD_TOKEN for
// the API commands can still run serve.
func checkEnv(root *cobra.Command, environ []string) error {
	known := map[string]bool{}
	for _, n := range extraEnv {
		known[n] = true
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { known[envName(f.Name)] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HOOKD_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	msg := make([]string, len(unknown))
	for i, u := range unknown {
		msg[i] = u
		if s := closest(u, names); s != "" {
			msg[i] += " (did you mean " + s + "?)"
		}
	}
	return withCode(exitUsage, fmt.Errorf("unknown environment variable %s: no hookd flag reads it", strings.Join(msg, ", ")))
}

// closest returns the name within edit distance 2 of s, if there is one.
func closest(s string, names []string) string {
	best, bestD := "", 3
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

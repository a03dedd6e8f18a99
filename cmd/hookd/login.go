package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// savedProfile is one named connection saved by `hookd login`.
type savedProfile struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// profileFile is the file `hookd login` writes: the profiles and the one used when
// no --profile is given.
type profileFile struct {
	Current  string                  `json:"current"`
	Profiles map[string]savedProfile `json:"profiles"`
}

// profilePath is os.UserConfigDir()/hookd/profiles.json ($XDG_CONFIG_HOME or
// ~/.config on Linux, ~/Library/Application Support on macOS, %AppData% on Windows).
func profilePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "hookd", "profiles.json"), nil
}

// loadProfiles reads the saved profiles; a missing file is no profiles.
func loadProfiles() (*profileFile, error) {
	pf := &profileFile{Profiles: map[string]savedProfile{}}
	path, err := profilePath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	if err := json.Unmarshal(data, pf); err != nil {
		return nil, fmt.Errorf("read profiles: %s: %w", path, err)
	}
	if pf.Profiles == nil {
		pf.Profiles = map[string]savedProfile{}
	}
	return pf, nil
}

// save writes the profiles readable by the user alone (0600, directory 0700): they
// hold API tokens.
func (pf *profileFile) save() (string, error) {
	path, err := profilePath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save profiles: %w", err)
	}
	data, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".profiles-*")
	if err != nil {
		return "", fmt.Errorf("save profiles: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save profiles: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save profiles: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save profiles: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("save profiles: %w", err)
	}
	return path, nil
}

func newLoginCmd() *cobra.Command {
	var (
		conn    connFlags
		noCheck bool
		list    bool
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save a server URL and API token as a named connection profile",
		Long: `login saves the connection settings the API commands, listen and trigger use:
a server URL and an API token, under a profile name (--profile, default "default").
The last profile saved becomes the current one, used when no --profile is given;
--profile NAME alone makes a saved profile the current one.

Profiles live in the user's config directory (hookd/profiles.json under
$XDG_CONFIG_HOME or ~/.config on Linux), readable by the user alone (mode 0600).
Before saving, login checks the token against the server; --no-check skips that.
--list prints the saved profiles (tokens are not shown).

On any command, --url and --token (or HOOKD_URL and HOOKD_TOKEN) win over the profile.`,
		Example: `  hookd login --url http://127.0.0.1:8071 --token hkd_…
  hookd login --profile staging --url https://hookd.staging.example.com --token hkd_…
  hookd app list --profile staging
  hookd login --profile default
  hookd login --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pf, err := loadProfiles()
			if err != nil {
				return withCode(exitError, err)
			}
			if list {
				return printProfiles(cmd, pf)
			}
			name := conn.profile
			if name == "" {
				name = "default"
			}
			if _, ok := pf.Profiles[name]; ok && conn.token == "" && conn.url == "" {
				// A saved profile alone: make it the current one.
				pf.Current = name
				if _, err := pf.save(); err != nil {
					return withCode(exitError, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "using profile %q (%s)\n", name, pf.Profiles[name].URL)
				return nil
			}
			if conn.token == "" {
				return withCode(exitUsage, errors.New("--token is required (or HOOKD_TOKEN)"))
			}
			if conn.url == "" {
				conn.url = defaultServerURL
			}
			conn.profile = "" // the profile being written is not read
			c, err := conn.client(cmd)
			if err != nil {
				return err
			}
			if !noCheck {
				// An application token may not list applications (403) but is valid.
				var ae *apiError
				if _, err := c.do(cmd.Context(), "GET", "/api/v1/app", url.Values{"limit": {"1"}}, nil); err != nil && !(errors.As(err, &ae) && ae.Status == 403) {
					return fmt.Errorf("check the token against %s: %w", c.base, err)
				}
			}
			pf.Profiles[name] = savedProfile{URL: c.base, Token: c.token}
			pf.Current = name
			path, err := pf.save()
			if err != nil {
				return withCode(exitError, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved profile %q (%s) in %s\n", name, c.base, path)
			return nil
		},
	}
	conn.register(cmd.Flags())
	cmd.Flags().BoolVar(&noCheck, "no-check", false, "save without checking the token against the server")
	cmd.Flags().BoolVar(&list, "list", false, "list the saved profiles")
	return cmd
}

func printProfiles(cmd *cobra.Command, pf *profileFile) error {
	names := make([]string, 0, len(pf.Profiles))
	for n := range pf.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURRENT\tPROFILE\tURL")
	for _, n := range names {
		cur := ""
		if n == pf.Current {
			cur = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cur, n, pf.Profiles[n].URL)
	}
	return tw.Flush()
}

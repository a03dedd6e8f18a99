package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// execCmd runs one subcommand in-process and returns its output and exit code.
func execCmd(t *testing.T, newCmd func() *cobra.Command, stdin string, args ...string) (string, int, error) {
	t.Helper()
	cmd := newCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	if err == nil {
		return out.String(), exitOK, nil
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return out.String(), ce.code, err
	}
	return out.String(), -1, err
}

const (
	cliSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	cliID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	cliTS     = "1614265330"
	cliBody   = `{"test": 2432232314}`
	cliSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" // Standard Webhooks vector 1
)

func TestSignCommand(t *testing.T) {
	t.Run("standard vector", func(t *testing.T) {
		out, code, err := execCmd(t, newSignCmd, "", "--secret", cliSecret, "--id", cliID, "--timestamp", cliTS, "--body", cliBody)
		if code != exitOK {
			t.Fatalf("exit %d: %v", code, err)
		}
		want := "webhook-id: " + cliID + "\nwebhook-timestamp: " + cliTS + "\nwebhook-signature: " + cliSig + "\n"
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})

	t.Run("json, body from stdin, secret from env", func(t *testing.T) {
		t.Setenv("HOOKD_SECRET", cliSecret)
		out, code, err := execCmd(t, newSignCmd, cliBody, "--id", cliID, "--timestamp", "2021-02-25T15:02:10Z", "--body-file", "-", "--json")
		if code != exitOK {
			t.Fatalf("exit %d: %v", code, err)
		}
		var res signResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if res.Profile != "standard" || res.Headers["webhook-signature"] != cliSig || res.Headers["webhook-timestamp"] != cliTS {
			t.Errorf("result %+v", res)
		}
	})

	t.Run("github profile", func(t *testing.T) {
		out, code, err := execCmd(t, newSignCmd, "", "--profile", "github", "--secret", "It's a Secret to Everybody", "--body", "Hello, World!")
		if code != exitOK {
			t.Fatalf("exit %d: %v", code, err)
		}
		if !strings.Contains(out, "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n") {
			t.Errorf("output:\n%s", out)
		}
		if !strings.Contains(out, "webhook-id: msg_") {
			t.Errorf("no generated message ID in:\n%s", out)
		}
	})

	t.Run("request file supplies body, id and timestamp", func(t *testing.T) {
		path := writeFile(t, "POST /hook HTTP/1.1\r\nHost: example.com\r\nwebhook-id: "+cliID+"\r\nwebhook-timestamp: "+cliTS+
			"\r\nContent-Length: 20\r\n\r\n"+cliBody)
		out, code, err := execCmd(t, newSignCmd, "", "--secret", cliSecret, "--request-file", path)
		if code != exitOK {
			t.Fatalf("exit %d: %v", code, err)
		}
		if !strings.Contains(out, "webhook-signature: "+cliSig) {
			t.Errorf("output:\n%s", out)
		}
	})

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"--body", "x"}, "--secret whsec_"},
		{"bad secret", []string{"--secret", "whsec_c2hvcnQ=", "--body", "x"}, "need at least 24"},
		{"unknown profile", []string{"--secret", cliSecret, "--profile", "nope", "--body", "x"}, "known: github"},
		{"no body", []string{"--secret", cliSecret}, "--body, --body-file or --request-file"},
		{"two bodies", []string{"--secret", cliSecret, "--body", "x", "--body-file", "f"}, "only one of"},
		{"bad timestamp", []string{"--secret", cliSecret, "--body", "x", "--timestamp", "yesterday"}, "RFC 3339"},
		{"missing body file", []string{"--secret", cliSecret, "--body-file", "/does/not/exist"}, "--body-file"},
		{"ed25519 with public key", []string{"--profile", "standard-ed25519", "--secret", "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "--body", "x"}, "whsk_"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOOKD_SECRET", "")
			_, code, err := execCmd(t, newSignCmd, "", tc.args...)
			if code != exitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d, error %v; want %d mentioning %q", code, err, exitUsage, tc.want)
			}
		})
	}
}

func TestParseCapturedRequest(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantBody string
		wantID   string
	}{
		{"crlf with length", "POST / HTTP/1.1\r\nWebhook-Id: a\r\nContent-Length: 3\r\n\r\nabc\r\n", "abc", "a"},
		{"lf without length", "POST / HTTP/1.1\nwebhook-id: b\n\nabc", "abc", "b"},
		{"no request line", "webhook-id: c\nContent-Length: 2\n\nhi", "hi", "c"},
		{"chunked", "POST / HTTP/1.1\r\nwebhook-id: d\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", "d"},
		{"length larger than file", "POST / HTTP/1.1\r\nwebhook-id: e\r\nContent-Length: 99\r\n\r\nabc", "abc", "e"},
		{"headers only", "POST / HTTP/1.1\r\nwebhook-id: f\r\n\r\n", "", "f"},
		{"headers as hookd sign prints them", "webhook-id: g\nwebhook-timestamp: 1\nwebhook-signature: v1,x\n", "", "g"},
		{"one header without a line end", "webhook-id: h", "", "h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, body, _, err := parseCapturedRequest([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.wantBody || h.Get("webhook-id") != tc.wantID {
				t.Errorf("body %q id %q; want %q %q", body, h.Get("webhook-id"), tc.wantBody, tc.wantID)
			}
		})
	}
	for _, bad := range []string{"", "   \n", "garbage without structure"} {
		if _, _, _, err := parseCapturedRequest([]byte(bad)); err == nil {
			t.Errorf("parseCapturedRequest(%q) succeeded", bad)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := t.TempDir() + "/request.http"
	if err := writeFileBytes(path, []byte(content)); err != nil {
		t.Fatal(err)
	}
	return path
}

// FuzzParseCapturedRequest feeds arbitrary files to the captured-request parser of
// sign and verify: it must not panic, and a body it returns is part of the file.
func FuzzParseCapturedRequest(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nWebhook-Id: a\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("webhook-id: c\nContent-Length: 2\n\nhi"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("webhook-id: g\nwebhook-signature: v1,x\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body, _, err := parseCapturedRequest(data)
		if err != nil {
			return
		}
		if h == nil {
			t.Fatal("nil header without an error")
		}
		if len(body) > len(data) {
			t.Fatalf("body of %d bytes from a %d-byte file", len(body), len(data))
		}
	})
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hookd/hookd/webhook"
)

func writeFileBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

func TestVerifyCommand(t *testing.T) {
	fresh := []string{"--secret", cliSecret, "--id", cliID, "--timestamp", cliTS, "--signature", cliSig, "--now", cliTS}
	captured := "POST /webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nwebhook-id: " + cliID +
		"\r\nwebhook-timestamp: " + cliTS + "\r\nwebhook-signature: " + cliSig + "\r\nContent-Length: 20\r\n\r\n" + cliBody
	capturedNoLength := "webhook-id: " + cliID + "\nwebhook-timestamp: " + cliTS + "\nwebhook-signature: " + cliSig + "\n\n" + cliBody + "\n"

	tests := []struct {
		name     string
		args     []string
		file     string // --request-file content
		wantCode int
		wantOut  string // substring of the output
		wantErr  string // substring of the error
	}{
		{name: "valid from flags", args: append(fresh, "--body", cliBody), wantCode: exitOK, wantOut: "valid: profile standard, id " + cliID},
		{name: "tampered body", args: append(fresh, "--body", cliBody+" "), wantCode: exitFailure, wantErr: "no matching signature"},
		{name: "wrong secret", args: []string{"--secret", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "--id", cliID,
			"--timestamp", cliTS, "--signature", cliSig, "--now", cliTS, "--body", cliBody}, wantCode: exitFailure, wantErr: "Check the secret"},
		{name: "captured request is too old", file: captured, args: []string{"--secret", cliSecret},
			wantCode: exitFailure, wantErr: "--ignore-timestamp"},
		{name: "captured request, signature only", file: captured, args: []string{"--secret", cliSecret, "--ignore-timestamp"},
			wantCode: exitOK, wantOut: "valid"},
		{name: "captured request as of its time", file: captured, args: []string{"--secret", cliSecret, "--now", "2021-02-25T15:03:00Z"},
			wantCode: exitOK, wantOut: "signed 2021-02-25T15:02:10Z"},
		{name: "trailing newline without length", file: capturedNoLength, args: []string{"--secret", cliSecret, "--ignore-timestamp"},
			wantCode: exitFailure, wantErr: "trailing newline"},
		{name: "flags override the file", file: captured, args: []string{"--secret", cliSecret, "--ignore-timestamp", "--id", "msg_other"},
			wantCode: exitFailure, wantErr: "no matching signature"},
		{name: "missing headers", args: []string{"--secret", cliSecret, "--body", cliBody}, wantCode: exitFailure, wantErr: "--request-file whose headers"},
		{name: "github", args: []string{"--profile", "github", "--secret", "It's a Secret to Everybody", "--body", "Hello, World!",
			"--signature", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, wantCode: exitOK, wantOut: "valid: profile github"},
		{name: "bad secret is a usage error", args: []string{"--secret", "whsk_x", "--body", "x"}, wantCode: exitUsage, wantErr: "has prefix whsk_"},
		{name: "bad tolerance is a usage error", args: append(fresh, "--body", cliBody, "--tolerance", "0s"), wantCode: exitUsage, wantErr: "--tolerance"},
		{name: "missing request file", args: []string{"--secret", cliSecret, "--request-file", "/does/not/exist"}, wantCode: exitUsage, wantErr: "--request-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOOKD_SECRET", "")
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--request-file", writeFile(t, tc.file)}, args...)
			}
			out, code, err := execCmd(t, newVerifyCmd, "", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (error %v, output %q)", code, tc.wantCode, err, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output %q, want it to contain %q", out, tc.wantOut)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
				t.Errorf("error reveals the secret: %v", err)
			}
		})
	}
}

func TestVerifyCommandJSON(t *testing.T) {
	out, code, _ := execCmd(t, newVerifyCmd, "", "--secret", cliSecret, "--id", cliID, "--timestamp", cliTS,
		"--signature", cliSig, "--body", cliBody, "--json")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	var res verifyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if res.Valid || res.Reason != "timestamp_too_old" || res.ID != cliID || res.Hint == "" {
		t.Errorf("result %+v", res)
	}

	out, code, _ = execCmd(t, newVerifyCmd, "", "--secret", cliSecret, "--id", cliID, "--timestamp", cliTS,
		"--signature", cliSig, "--body", cliBody, "--json", "--ignore-timestamp")
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	res = verifyResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Timestamp != 1614265330 || res.BodyBytes != len(cliBody) {
		t.Errorf("result %+v", res)
	}
}

// TestSignVerifyRoundTrip goes through the root command, as a user would, for every
// profile family.
func TestSignVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		profile, signSecret, verifySecret string
	}{
		{"standard", cliSecret, cliSecret},
		{"svix", cliSecret, cliSecret},
		{"standard-ed25519", "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
		{"svix-ed25519", "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
		{"stripe", "whsec_anything", "whsec_anything"},
		{"github", "It's a Secret to Everybody", "It's a Secret to Everybody"},
		{"hmac-sha256-hex", "plain text secret", "plain text secret"},
		{"hmac-sha512-hex", "plain text secret", "plain text secret"},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			out, code, err := execCmd(t, newSignCmd, "", "--profile", tc.profile, "--secret", tc.signSecret, "--body", cliBody)
			if code != exitOK {
				t.Fatalf("sign: exit %d: %v", code, err)
			}
			// Turn the printed headers into a captured request.
			req := "POST / HTTP/1.1\r\n" + strings.ReplaceAll(out, "\n", "\r\n") + "Content-Length: 20\r\n\r\n" + cliBody
			if code := run(context.Background(), []string{"verify", "--profile", tc.profile, "--request-file", writeFile(t, req)}); code != exitUsage {
				t.Errorf("verify without a secret: exit %d, want %d", code, exitUsage)
			}
			t.Setenv("HOOKD_SECRET", tc.verifySecret)
			if code := run(context.Background(), []string{"verify", "--profile", tc.profile, "--request-file", writeFile(t, req)}); code != exitOK {
				t.Errorf("verify: exit %d, want 0", code)
			}
			if code := run(context.Background(), []string{"verify", "--profile", tc.profile, "--request-file", writeFile(t, strings.Replace(req, "2432232314", "2432232315", 1))}); code != exitFailure {
				t.Errorf("verify with a changed body: exit %d, want %d", code, exitFailure)
			}
		})
	}
}

// TestSignPipeVerify feeds what 'hookd sign' prints to 'hookd verify --request-file -'
// with the body given by flag, as in
// hookd sign … --body B | hookd verify … --body B --request-file -, for every profile.
func TestSignPipeVerify(t *testing.T) {
	const edSecret, edPublic = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	for _, profile := range webhook.ProfileNames() {
		t.Run(profile, func(t *testing.T) {
			t.Setenv("HOOKD_SECRET", "")
			p, err := webhook.LookupProfile(profile)
			if err != nil {
				t.Fatal(err)
			}
			signSecret, verifySecret := cliSecret, cliSecret
			switch {
			case p.Algorithm == webhook.Ed25519:
				signSecret, verifySecret = edSecret, edPublic
			case p.Keys == webhook.KeyText:
				signSecret, verifySecret = "plain text secret", "plain text secret"
			}
			headers, code, err := execCmd(t, newSignCmd, "", "--profile", profile, "--secret", signSecret, "--body", cliBody)
			if code != exitOK {
				t.Fatalf("sign: exit %d: %v", code, err)
			}
			verify := func(body string, extra ...string) (string, int, error) {
				args := append([]string{"--profile", profile, "--secret", verifySecret, "--request-file", "-", "--body", body}, extra...)
				return execCmd(t, newVerifyCmd, headers, args...)
			}
			if out, code, err := verify(cliBody); code != exitOK || !strings.Contains(out, "valid: profile "+profile) {
				t.Errorf("verify: exit %d, output %q, error %v", code, out, err)
			}
			if _, code, err := verify(cliBody + "\n"); code != exitFailure || !strings.Contains(err.Error(), "--body") {
				t.Errorf("verify with a changed body: exit %d, error %v; want %d naming --body", code, err, exitFailure)
			}

			out, code, _ := verify(cliBody, "--json")
			var res verifyResult
			if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitOK || !res.Valid || res.Profile != profile {
				t.Errorf("verify --json: exit %d, result %+v, %v", code, res, err)
			}
			out, code, _ = verify("{}", "--json")
			res = verifyResult{}
			if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitFailure || res.Valid || res.Reason != "invalid_signature" {
				t.Errorf("verify --json, changed body: exit %d, result %+v, %v", code, res, err)
			}

			out, code, err = execCmd(t, newSignCmd, "", "--profile", profile, "--secret", signSecret, "--body", cliBody, "--json")
			var signed signResult
			if jerr := json.Unmarshal([]byte(out), &signed); jerr != nil || code != exitOK || signed.Profile != profile ||
				signed.Headers[p.SignatureHeader] == "" || signed.Headers[p.IDHeader] == "" || signed.Headers[p.TimestampHeader] == "" {
				t.Errorf("sign --json: exit %d, result %+v, %v %v", code, signed, err, jerr)
			}
		})
	}

	t.Run("standard input read twice", func(t *testing.T) {
		_, code, err := execCmd(t, newVerifyCmd, "", "--secret", cliSecret, "--request-file", "-", "--body-file", "-")
		if code != exitUsage || !strings.Contains(err.Error(), "standard input") {
			t.Errorf("exit %d, error %v; want %d", code, err, exitUsage)
		}
	})
	t.Run("body and body file", func(t *testing.T) {
		_, code, err := execCmd(t, newVerifyCmd, "", "--secret", cliSecret, "--body", "x", "--body-file", "f")
		if code != exitUsage || !strings.Contains(err.Error(), "only one of") {
			t.Errorf("exit %d, error %v; want %d", code, err, exitUsage)
		}
	})
}

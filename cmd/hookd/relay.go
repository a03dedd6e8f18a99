package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// relayPollWait is how long one poll waits on the server for deliveries.
const relayPollWait = 25 * time.Second

// relayForwarders bounds the requests forwarded to the local URL at once.
const relayForwarders = 16

// relayRequest is one delivery the server hands over (GET …/relay/{id}/requests).
type relayRequest struct {
	ID        string              `json:"id"`
	MsgID     string              `json:"msgId"`
	EventType string              `json:"eventType"`
	Path      string              `json:"path"`
	Headers   map[string][]string `json:"headers"`
	Body      []byte              `json:"body"`
}

// relayAnswer is the local handler's answer (POST …/relay/{id}/answer).
type relayAnswer struct {
	ID      string              `json:"id"`
	Status  int                 `json:"status,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// relayUID names the temporary endpoint: --name, or one derived from the host and
// the forward URL, so the same listen started again finds the same endpoint.
func relayUID(f *listenFlags) string {
	if f.name != "" {
		return f.name
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + f.forwardTo))
	return "hookd-listen-" + hex.EncodeToString(sum[:6])
}

func runRelayListen(cmd *cobra.Command, f *listenFlags) error {
	if f.app == "" || f.forwardTo == "" {
		return withCode(exitUsage, errors.New("relaying needs both --app and --forward-to"))
	}
	fwd, err := url.Parse(f.forwardTo)
	if err != nil || (fwd.Scheme != "http" && fwd.Scheme != "https") || fwd.Host == "" {
		return withCode(exitUsage, fmt.Errorf("--forward-to: %q is not an http:// or https:// URL", f.forwardTo))
	}
	c, err := f.conn.client(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	uid := relayUID(f)
	data, err := c.do(ctx, "POST", appPath(f.app)+"/relay", nil, map[string]any{
		"uid": uid, "filterTypes": f.events, "description": "hookd listen → " + f.forwardTo,
	})
	if err != nil {
		return fmt.Errorf("create the relay endpoint: %w", err)
	}
	var ep struct {
		ID string `json:"id"`
	}
	if err := jsonUnmarshal(data, &ep); err != nil {
		return err
	}
	epPath := appPath(f.app) + "/endpoint/" + pathEscape(ep.ID)
	relayPath := appPath(f.app) + "/relay/" + pathEscape(ep.ID)

	// The endpoint's own secret verifies what arrives, unless --secret says otherwise.
	secretData, secretErr := c.do(ctx, "GET", epPath+"/secret", nil, nil)
	var secret struct {
		Key string `json:"key"`
	}
	if secretErr == nil {
		secretErr = jsonUnmarshal(secretData, &secret)
	}
	if len(f.secrets) == 0 && secretErr == nil {
		f.secrets = []string{secret.Key}
	}
	ib, err := newInbox(cmd, f)
	if err != nil {
		return err
	}
	out := cmd.ErrOrStderr()
	if f.printSecret {
		if secretErr != nil {
			return fmt.Errorf("read the endpoint's secret: %w", secretErr)
		}
		if f.json {
			b, _ := json.Marshal(map[string]string{"endpointId": ep.ID, "secret": secret.Key})
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "webhook signing secret: %s\n", secret.Key)
		}
	}
	filter := "every event type"
	if len(f.events) > 0 {
		filter = strings.Join(f.events, ", ")
	}
	fmt.Fprintf(out, "hookd: relaying %s of application %s (endpoint %s, uid %s) from %s to %s; Ctrl-C removes the endpoint\n",
		filter, f.app, ep.ID, uid, c.base, f.forwardTo)

	// The long poll outlives the API client's timeout.
	poller := *c
	poller.http = &http.Client{Timeout: relayPollWait + 30*time.Second}
	local := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sem := make(chan struct{}, relayForwarders)
	q := url.Values{"wait": {fmt.Sprint(int(relayPollWait / time.Second))}, "limit": {fmt.Sprint(relayForwarders)}}
	backoff := time.Second
	for ctx.Err() == nil {
		data, err := poller.do(ctx, "GET", relayPath+"/requests", q, nil)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ae *apiError
			if errors.As(err, &ae) && (ae.Status == 404 || ae.Status == 401 || ae.Status == 403) {
				return fmt.Errorf("relay: %w", err)
			}
			fmt.Fprintf(out, "hookd: relay: %v; trying again in %s\n", err, backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		var page struct {
			Data []relayRequest `json:"data"`
		}
		if err := jsonUnmarshal(data, &page); err != nil {
			return err
		}
		for _, rq := range page.Data {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				ans, e := forwardRelayed(local, fwd, &rq, ib)
				// The answer goes back even after Ctrl-C, so hookd records it.
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
				defer cancel()
				if _, err := c.do(actx, "POST", relayPath+"/answer", nil, ans); err != nil {
					fmt.Fprintf(out, "hookd: relay: answer for %s: %v\n", e.ID, err)
				}
			}()
		}
	}
	for range relayForwarders { // wait for the forwards in flight
		sem <- struct{}{}
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.do(dctx, "DELETE", epPath, nil, nil); err != nil {
		return fmt.Errorf("remove the relay endpoint %s: %w", ep.ID, err)
	}
	fmt.Fprintf(out, "hookd: removed the relay endpoint %s\n", ep.ID)
	return nil
}

// forwardRelayed sends one relayed delivery to the local URL, its path appended, with
// the headers exactly as hookd signed them, and prints it.
func forwardRelayed(local *http.Client, fwd *url.URL, rq *relayRequest, ib *inbox) (*relayAnswer, *entry) {
	target := *fwd
	if rq.Path != "" {
		if u, err := url.Parse(rq.Path); err == nil {
			target.Path = strings.TrimSuffix(target.Path, "/") + u.Path
			target.RawPath = ""
			if u.RawQuery != "" {
				target.RawQuery = strings.TrimPrefix(target.RawQuery+"&"+u.RawQuery, "&")
			}
		}
	}
	ans := &relayAnswer{ID: rq.ID}
	req, err := http.NewRequest(http.MethodPost, target.String(), bytes.NewReader(rq.Body))
	if err != nil {
		ans.Error = err.Error()
		return ans, ib.take(&http.Request{Method: "POST", URL: &target, Header: http.Header{}}, rq.Body, rq.EventType, 0, "", err)
	}
	for k, vs := range rq.Headers {
		req.Header[k] = append([]string(nil), vs...)
	}
	resp, err := local.Do(req)
	if err != nil {
		ans.Error = err.Error()
		return ans, ib.take(req, rq.Body, rq.EventType, 0, "", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ans.Status, ans.Headers, ans.Body = resp.StatusCode, resp.Header, body
	return ans, ib.take(req, rq.Body, rq.EventType, resp.StatusCode, strings.TrimSpace(string(body)), nil)
}

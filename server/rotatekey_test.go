package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/crypt"
	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/webhook"
)

// verifyingReceiver checks every delivery against the secrets of its endpoints, by path.
type verifyingReceiver struct {
	srv *httptest.Server

	mu        sync.Mutex
	verifiers map[string]*webhook.Verifier
	seen      map[string]bool // path + webhook-id
	bad       []string
	good      atomic.Int64
}

func newVerifyingReceiver(t *testing.T) *verifyingReceiver {
	r := &verifyingReceiver{verifiers: map[string]*webhook.Verifier{}, seen: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		v := r.verifiers[req.URL.Path]
		if v == nil {
			r.bad = append(r.bad, req.URL.Path+": no verifier")
			return
		}
		if err := v.Verify(req.Header, body); err != nil {
			r.bad = append(r.bad, req.URL.Path+" "+req.Header.Get("webhook-id")+": "+err.Error())
			return
		}
		key := req.URL.Path + " " + req.Header.Get("webhook-id")
		if !r.seen[key] {
			r.seen[key] = true
			r.good.Add(1)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *verifyingReceiver) expect(t *testing.T, path, secret string) {
	t.Helper()
	p, _ := webhook.LookupProfile("standard")
	v, err := webhook.NewVerifier(p, []string{secret})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.verifiers[path] = v
	r.mu.Unlock()
}

// TestRotateKeyWhileTwoNodesDeliver runs the hookd rotate-key binary on a PostgreSQL
// database while two nodes accept and deliver messages and an endpoint
// is added: every delivery arrives and verifies; afterwards a node starts with the new
// key and not with the old.
func TestRotateKeyWhileTwoNodesDeliver(t *testing.T) {
	t.Parallel()
	db := postgresDB(t)
	ctx := context.Background()
	rcv := newVerifyingReceiver(t)
	nodes := []*testServer{
		startServer(t, func(c *server.Config) { c.DB = db }),
		startServer(t, func(c *server.Config) { c.DB = db }),
	}
	var app struct{ ID string }
	code, b := nodes[0].raw(t, "POST", "/api/v1/app", `{"name":"rotation"}`)
	if code != 201 || json.Unmarshal(b, &app) != nil {
		t.Fatalf("create app: %d %s", code, b)
	}
	var epMu sync.Mutex
	var epIDs []string
	addEndpoint := func(ts *testServer, path string) {
		secret, err := webhook.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		rcv.expect(t, path, secret) // before any delivery can arrive
		var ep struct{ ID string }
		code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", `{"url":"`+rcv.srv.URL+path+`","secret":"`+secret+`"}`)
		if code != 201 || json.Unmarshal(b, &ep) != nil {
			t.Fatalf("create endpoint: %d %s", code, b)
		}
		epMu.Lock()
		epIDs = append(epIDs, ep.ID)
		epMu.Unlock()
	}
	addEndpoint(nodes[0], "/first")

	// Send until told to stop, to each node in turn.
	stop := make(chan struct{})
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			code, b := nodes[i%2].raw(t, "POST", "/api/v1/app/"+app.ID+"/msg", `{"eventType":"rotation.test","payload":{"i":1}}`)
			if code != 202 {
				t.Errorf("send: %d %s", code, b)
				return
			}
			sent.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// The real command, as an operator runs it beside the nodes.
	bin := hookdtest.BuildBinary(t)
	newKey := crypt.NewKey()
	cmd := exec.Command(bin, "rotate-key", "--db", db, "--new-encryption-key", newKey.String(),
		"--settle", (3 * crypt.RefreshInterval).String())
	cmd.Env = append(os.Environ(), "HOOKD_ENCRYPTION_KEY="+testEncryptionKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		t.Log(sc.Text())
		if strings.Contains(sc.Text(), "added data key") {
			// A node (holding only the old key) adds an endpoint mid-rotation.
			addEndpoint(nodes[1], "/second")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hookd rotate-key: %v", err)
	}
	if len(epIDs) != 2 {
		t.Fatalf("rotate-key never reported its new data key (%d endpoints)", len(epIDs))
	}
	// The nodes go on after the rotation, on the keys they loaded during it: some 40
	// messages before a third endpoint is added and as many after.
	sentMore := func(n int64) {
		mark := sent.Load()
		waitFor(t, fmt.Sprintf("%d more messages", n), func() bool { return sent.Load() >= mark+n })
	}
	sentMore(40)
	addEndpoint(nodes[0], "/third")
	sentMore(40)
	close(stop)
	<-done

	// Wait, within a bound, until no delivery is queued, then compare what the store
	// counts as delivered with what the receiver verified.
	var success int64
	for deadline := time.Now().Add(60 * time.Second); ; {
		var queued, failed int64
		success = 0
		for _, id := range epIDs {
			var st struct{ Success, Pending, Sending, Fail int64 }
			code, b := nodes[0].raw(t, "GET", "/api/v1/app/"+app.ID+"/endpoint/"+id+"/stats", "")
			if code != 200 || json.Unmarshal(b, &st) != nil {
				t.Fatalf("stats: %d %s", code, b)
			}
			success, queued, failed = success+st.Success, queued+st.Pending+st.Sending, failed+st.Fail
		}
		if failed > 0 {
			t.Fatalf("%d deliveries failed", failed)
		}
		if queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still queued", queued)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rcv.mu.Lock()
	bad := rcv.bad
	rcv.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d deliveries did not verify, e.g. %s", len(bad), bad[0])
	}
	if got := rcv.good.Load(); got != success || sent.Load() < 50 || got <= sent.Load() {
		t.Fatalf("%d deliveries verified, %d delivered by the store's count, of %d messages", got, success, sent.Load())
	}
	t.Logf("%d messages, %d deliveries to 3 endpoints, all verified, while the main key rotated", sent.Load(), rcv.good.Load())

	// A new node needs the new key; the old one is refused at start.
	if ts := startServer(t, func(c *server.Config) { c.DB, c.EncryptionKey = db, newKey.String() }); ts == nil {
		t.Fatal("no server with the new key")
	}
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DB, cfg.EncryptionKey = "127.0.0.1:0", db, testEncryptionKey
	srv := server.New(cfg)
	if err := srv.Open(ctx); err == nil || !strings.Contains(err.Error(), "wrong encryption key") {
		_ = srv.Close()
		t.Fatalf("start with the old key after the rotation: %v", err)
	}
}

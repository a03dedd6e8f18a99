package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/server"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestAdminTokenAddedNotReplaced starts with a generated key, then with
// --admin-token, then with another --admin-token (as a second node given a different
// one would): every key keeps working, and the log says what happened.
func TestAdminTokenAddedNotReplaced(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hookd.db")
	ctx := context.Background()
	open := func(token string) (*server.Server, string) {
		var logs syncBuffer
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.DB, cfg.AdminToken = "127.0.0.1:0", db, token
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		srv := server.New(cfg)
		if err := srv.Open(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		return srv, logs.String()
	}
	first, _ := open("")
	generated := first.NewAdminToken()
	if generated == "" {
		t.Fatal("no key generated on first start")
	}
	_ = first.Close()

	second, logs := open("walkthrough-token-0123456789")
	if !strings.Contains(logs, "was added as a new key") || !strings.Contains(logs, "default") {
		t.Fatalf("adding --admin-token beside the generated key logged:\n%s", logs)
	}
	if strings.Contains(logs, "walkthrough-token") || strings.Contains(logs, generated) {
		t.Fatalf("a key appears in the log:\n%s", logs)
	}
	third, logs := open("other-node-token-0123456789")
	if !strings.Contains(logs, "admin-token-") {
		t.Fatalf("a second, different --admin-token logged:\n%s", logs)
	}
	for _, srv := range []*server.Server{second, third} {
		for _, tok := range []string{generated, "walkthrough-token-0123456789", "other-node-token-0123456789"} {
			if _, err := newClient(t, srv.URL(), tok).Application.List(ctx, nil); err != nil {
				t.Errorf("key %.12s… on %s: %v", tok, srv.URL(), err)
			}
		}
	}
	// The same token again adds nothing and says nothing.
	_, logs = open("walkthrough-token-0123456789")
	if strings.Contains(logs, "added") {
		t.Fatalf("a known --admin-token was added again:\n%s", logs)
	}
}

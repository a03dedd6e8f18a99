package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
	"github.com/hookd/hookd/sqlite"
)

// secretFixture makes one of every secret hookd stores: endpoint keys of every
// profile (Ed25519 included), custom header values, a rotated-out key, the
// operational webhook secret, an API key and an application token. It returns them.
func secretFixture(t *testing.T, ts *testServer) []string {
	t.Helper()
	secrets := []string{adminToken}
	var app struct{ ID string }
	if code, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"secrets"}`); code != 201 {
		t.Fatalf("create app: %d %s", code, b)
	} else {
		_ = json.Unmarshal(b, &app)
	}
	for _, profile := range []string{"standard", "standard-ed25519", "svix", "github", "hmac-sha256-hex", "hmac-sha512-hex", "stripe"} {
		body := `{"url":"https://example.com/` + profile + `","signatureProfile":"` + profile + `",
			"headers":{"Authorization":"Bearer header-secret-` + profile + `","X-Api-Key":"key-` + profile + `-0123456789"}}`
		var ep struct{ ID string }
		code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint", body)
		if code != 201 {
			t.Fatalf("create %s endpoint: %d %s", profile, code, b)
		}
		_ = json.Unmarshal(b, &ep)
		if code, b := ts.raw(t, "POST", "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID+"/secret/rotate", `{}`); code != 204 {
			t.Fatalf("rotate: %d %s", code, b)
		}
	}
	// An mTLS client key on the first endpoint.
	var eps struct{ Data []struct{ ID string } }
	if code, b := ts.raw(t, "GET", "/api/v1/app/"+app.ID+"/endpoint", ""); code != 200 || json.Unmarshal(b, &eps) != nil || len(eps.Data) == 0 {
		t.Fatalf("list endpoints: %d %s", code, b)
	}
	identity := hookdtest.NewCA(t, "clients").Client(t, "hookd", time.Now().Add(time.Hour))
	idBody, _ := json.Marshal(map[string]string{"identity": identity})
	if code, b := ts.raw(t, "PUT", "/api/v1/app/"+app.ID+"/endpoint/"+eps.Data[0].ID+"/mtls", string(idBody)); code != 204 {
		t.Fatalf("set mtls: %d %s", code, b)
	}
	oauth := `{"grantType":"clientCredentials","authMethod":"clientSecretPost","clientId":"hookd",
		"clientSecret":"oauth-client-secret-0123456789","tokenUrl":"https://auth.example/token"}`
	if code, b := ts.raw(t, "PUT", "/api/v1/app/"+app.ID+"/endpoint/"+eps.Data[0].ID+"/oauth", oauth); code != 204 {
		t.Fatalf("set oauth: %d %s", code, b)
	}
	secrets = append(secrets, "oauth-client-secret-0123456789")
	var key struct{ Key string }
	code, b := ts.raw(t, "POST", "/api/v1/auth/api-key", `{"name":"scanned"}`)
	if code != 201 || json.Unmarshal(b, &key) != nil {
		t.Fatalf("create API key: %d %s", code, b)
	}
	var tok struct{ Token string }
	code, b = ts.raw(t, "POST", "/api/v1/auth/app-portal-access/"+app.ID, `{}`, "Idempotency-Key", "portal-1")
	if code != 200 || json.Unmarshal(b, &tok) != nil {
		t.Fatalf("app-portal-access: %d %s", code, b)
	}
	secrets = append(secrets, key.Key, tok.Token)
	// What hookd holds, read back through its own (decrypting) store.
	ctx := context.Background()
	st := ts.srv.Store()
	apps, err := st.Apps(ctx, hookd.Page{Limit: 250})
	if err != nil {
		t.Fatal(err)
	}
	n, keys := 0, 0
	for _, a := range apps {
		eps, err := st.AllEndpoints(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range eps {
			for _, s := range e.Secrets {
				secrets = append(secrets, s.Key)
				n++
			}
			for _, v := range e.Headers {
				secrets = append(secrets, v)
			}
			if e.ClientCert != nil {
				// The PEM key, and its base64 body on its own.
				body := strings.Join(strings.Split(e.ClientCert.KeyPEM, "\n")[1:2], "")
				secrets = append(secrets, e.ClientCert.KeyPEM, body)
				keys++
			}
			if e.OAuth != nil {
				secrets = append(secrets, e.OAuth.ClientSecret)
			}
		}
	}
	if n < 14 { // 7 endpoints × (current + rotated-out)
		t.Fatalf("the store holds %d endpoint keys, want at least 14", n)
	}
	if keys != 1 {
		t.Fatalf("the store holds %d mTLS client keys, want 1", keys)
	}
	return secrets
}

// needles returns what must not appear at rest for one secret: the secret, its part
// after a prefix, and the bytes it encodes.
func needles(secret string) [][]byte {
	out := [][]byte{[]byte(secret)}
	if _, rest, ok := strings.Cut(secret, "_"); ok && len(rest) >= 12 {
		out = append(out, []byte(rest))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			if raw, err := enc.DecodeString(rest); err == nil && len(raw) >= 16 {
				out = append(out, raw)
			}
		}
	}
	return out
}

func scan(t *testing.T, where string, data []byte, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for _, n := range needles(s) {
			if bytes.Contains(data, n) {
				t.Errorf("%s holds a secret in plain text: %.24q… (of %.10s…)", where, n, s)
			}
		}
	}
}

func readDBFiles(t *testing.T, db string) []byte {
	t.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// TestSecretsEncryptedAtRestSQLite searches the SQLite file and its WAL, byte by byte,
// for every secret hookd holds.
func TestSecretsEncryptedAtRestSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hookd.db")
	ts := startServer(t, func(c *server.Config) {
		c.DB = db
		c.OperationalWebhookURL = "https://ops.example.com/hook"
		c.OperationalWebhookSecret = "whsec_b3BlcmF0aW9uYWwtc2VjcmV0LTAxMjM0NTY3"
	})
	// The operational endpoint is made with the first operational event.
	ts.raw(t, "POST", "/api/v1/app", `{"name":"first","uid":"first"}`)
	if code, _ := ts.raw(t, "DELETE", "/api/v1/app/first", ""); code != 204 {
		t.Fatalf("delete app: %d", code)
	}
	secrets := append(secretFixture(t, ts), "whsec_b3BlcmF0aW9uYWwtc2VjcmV0LTAxMjM0NTY3")
	scan(t, "the running database (file, WAL, shm)", readDBFiles(t, db), secrets)
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	scan(t, "the closed database", readDBFiles(t, db), secrets)
	fi, err := os.Stat(server.KeyFile(db))
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestSecretsEncryptedAtRestPostgres reads every row of every hookd table as text, its
// bytea columns and its relation files (postgresBytes), and searches them for every
// secret hookd holds.
func TestSecretsEncryptedAtRestPostgres(t *testing.T) {
	db := postgresDB(t)
	ts := startServer(t, func(c *server.Config) { c.DB = db })
	secrets := secretFixture(t, ts)
	all := bytes.NewBuffer(postgresBytes(t, db))
	if !bytes.Contains(all.Bytes(), []byte("hkenc1:")) {
		t.Fatal("no sealed value found: the scan read the wrong tables")
	}
	scan(t, "the PostgreSQL tables", all.Bytes(), secrets)
}

// TestPlainTextDatabaseMigrated opens a database whose endpoint secret was written
// in plain text (as before encryption at rest) with hookd: the secret is sealed on
// start, and still signs.
func TestPlainTextDatabaseMigrated(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hookd.db")
	raw, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	app := &hookd.Application{ID: hookd.IDGen{}.New(hookd.PrefixApp), UID: "old", Name: "old", CreatedAt: now, UpdatedAt: now}
	const plain = "whsec_cGxhaW4tdGV4dC1zZWNyZXQtZnJvbS1iZWZvcmU="
	ep := &hookd.Endpoint{ID: hookd.IDGen{}.New(hookd.PrefixEndpoint), AppID: app.ID, UID: "main", URL: "https://example.com",
		Secrets: []hookd.Secret{{Key: plain}}, Headers: map[string]string{"Authorization": "Bearer legacy-plain-header"}, CreatedAt: now, UpdatedAt: now}
	if err := raw.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := raw.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readDBFiles(t, db), []byte("cGxhaW4tdGV4dC1zZWNyZXQtZnJvbS1iZWZvcmU")) {
		t.Fatal("the plain-text fixture is not in the file")
	}
	ts := startServer(t, func(c *server.Config) { c.DB = db })
	code, b := ts.raw(t, "GET", "/api/v1/app/old/endpoint/main/secret", "")
	if code != 200 || !strings.Contains(string(b), plain) {
		t.Fatalf("secret after the migration: %d %s", code, b)
	}
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	scan(t, "the migrated database", readDBFiles(t, db), []string{plain, "Bearer legacy-plain-header"})
}

// TestWrongOrMissingKeyFailsStart checks that hookd refuses to start on encrypted
// secrets it cannot open, with an error naming the cause.
func TestWrongOrMissingKeyFailsStart(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hookd.db")
	ts := startServer(t, func(c *server.Config) { c.DB = db })
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	open := func(edit func(*server.Config)) error {
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.DB = "127.0.0.1:0", db
		edit(&cfg)
		srv := server.New(cfg)
		err := srv.Open(ctx)
		if err == nil {
			_ = srv.Close()
		}
		return err
	}
	err := open(func(c *server.Config) { c.EncryptionKey = testEncryptionKey })
	if err == nil || !strings.Contains(err.Error(), "wrong encryption key") {
		t.Fatalf("another key: %v", err)
	}
	keyFile := server.KeyFile(db)
	if err := os.Rename(keyFile, keyFile+".away"); err != nil {
		t.Fatal(err)
	}
	err = open(func(*server.Config) {})
	if err == nil || !strings.Contains(err.Error(), "key file") || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing key file: %v", err)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Fatal("a missing key file was replaced by a new key")
	}
	if err := os.Rename(keyFile+".away", keyFile); err != nil {
		t.Fatal(err)
	}
	if err := open(func(*server.Config) {}); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	err = open(func(c *server.Config) { c.DB = postgresLikeDSN })
	if err == nil || !strings.Contains(err.Error(), "encryption-key: required with PostgreSQL") {
		t.Fatalf("PostgreSQL without a key: %v", err)
	}
}

// postgresLikeDSN is never connected to: the missing key is refused first.
const postgresLikeDSN = "postgres://nobody@127.0.0.1:1/none?sslmode=disable"

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/utils"
)

const adminToken = "test-admin-token-0123456789abcdef"

// testEncryptionKey is the main key of the PostgreSQL tests' servers.
const testEncryptionKey = "dGVzdC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg5YWI="

// testServer is a hookd server running in-process on a free port.
type testServer struct {
	srv    *server.Server
	url    string
	client *svix.Svix
}

func startServer(t *testing.T, edit ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "hookd.db")
	cfg.AdminToken = adminToken
	cfg.AllowPrivate = true
	for _, e := range edit {
		e(&cfg)
	}
	if cfg.IsPostgres() && cfg.EncryptionKey == "" {
		cfg.EncryptionKey = testEncryptionKey
	}
	srv := server.New(cfg)
	if err := srv.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return &testServer{srv: srv, url: srv.URL(), client: newClient(t, srv.URL(), adminToken)}
}

func newClient(t *testing.T, base, token string) *svix.Svix {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := svix.New(token, &svix.SvixOptions{ServerUrl: u, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// status returns the HTTP status of an SDK error (0 if err is not one).
func status(err error) int {
	var se *svix.Error
	if errors.As(err, &se) {
		return se.Status()
	}
	return 0
}

func wantStatus(t *testing.T, err error, want int) {
	t.Helper()
	if got := status(err); got != want {
		t.Fatalf("error = %v (status %d), want status %d", err, got, want)
	}
}

// raw sends a request with the admin token and returns the status and body.
func (ts *testServer) raw(t *testing.T, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// expect sends a request as raw does, fails the test unless it is answered want, and
// returns the body.
func (ts *testServer) expect(t *testing.T, method, path, body string, want int) []byte {
	t.Helper()
	code, out := ts.raw(t, method, path, body)
	if code != want {
		t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, code, out, want)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// val is what p points to, or T's zero value.
func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// resend resends a message to an endpoint, as the SDK's MessageAttempt.Resend does.
func resend(c *svix.Svix, ctx context.Context, appID, msgID, endpointID string) error {
	_, err := c.MessageAttempt.Resend(ctx, appID, msgID, endpointID, nil)
	return err
}

func TestApplications(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client

	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme"), Metadata: &map[string]string{"plan": "pro"}, ThrottleRate: ptr(uint16(10))}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(app.Id, "app_") || app.Name != "Acme" || val(app.Uid) != "acme" || app.Metadata["plan"] != "pro" || val(app.ThrottleRate) != 10 {
		t.Fatalf("created app = %+v", app)
	}
	t.Run("get by id and uid", func(t *testing.T) {
		for _, id := range []string{app.Id, "acme"} {
			got, err := c.Application.Get(ctx, id)
			if err != nil || got.Id != app.Id || !got.CreatedAt.Equal(app.CreatedAt) || !got.UpdatedAt.Equal(app.UpdatedAt) {
				t.Fatalf("get %s = %+v, %v", id, got, err)
			}
		}
	})
	t.Run("uid taken", func(t *testing.T) {
		_, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Other", Uid: ptr("acme")}, nil)
		wantStatus(t, err, http.StatusConflict)
	})
	t.Run("get or create", func(t *testing.T) {
		got, err := c.Application.GetOrCreate(ctx, svix.ApplicationIn{Name: "Acme again", Uid: ptr("acme")}, nil)
		if err != nil || got.Id != app.Id || got.Name != "Acme" {
			t.Fatalf("get-or-create existing = %+v, %v", got, err)
		}
		code, _ := ts.raw(t, "POST", "/api/v1/app?get_if_exists=true", `{"name":"Acme","uid":"acme"}`)
		if code != http.StatusOK {
			t.Errorf("get-or-create existing: status %d, want 200", code)
		}
		code, _ = ts.raw(t, "POST", "/api/v1/app?get_if_exists=true", `{"name":"New","uid":"brand-new"}`)
		if code != http.StatusCreated {
			t.Errorf("get-or-create new: status %d, want 201", code)
		}
	})
	t.Run("update and patch", func(t *testing.T) {
		got, err := c.Application.Update(ctx, "acme", svix.ApplicationIn{Name: "Acme Inc", Uid: ptr("acme")})
		if err != nil || got.Name != "Acme Inc" || got.RateLimit != nil || len(got.Metadata) != 0 {
			t.Fatalf("update = %+v, %v", got, err)
		}
		got, err = c.Application.Patch(ctx, app.Id, svix.ApplicationPatch{Metadata: &map[string]string{"k": "v"}})
		if err != nil || got.Name != "Acme Inc" || got.Metadata["k"] != "v" {
			t.Fatalf("patch = %+v, %v", got, err)
		}
	})
	t.Run("update creates", func(t *testing.T) {
		code, body := ts.raw(t, "PUT", "/api/v1/app/made-by-put", `{"name":"Put"}`)
		if code != http.StatusCreated || !strings.Contains(string(body), `"uid":"made-by-put"`) {
			t.Fatalf("PUT new app: %d %s", code, body)
		}
	})
	t.Run("delete", func(t *testing.T) {
		tmp, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Temp"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Application.Delete(ctx, tmp.Id); err != nil {
			t.Fatalf("delete: %v", err)
		}
		_, err = c.Application.Get(ctx, tmp.Id)
		wantStatus(t, err, http.StatusNotFound)
		wantStatus(t, c.Application.Delete(ctx, tmp.Id), http.StatusNotFound)
	})
}

// TestApplicationsWithEndpoints lists, page by page, only the applications that have
// an endpoint (exclude_apps_with_no_endpoints).
func TestApplicationsWithEndpoints(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	want := map[string]bool{}
	for i := range 9 {
		a, err := c.Application.Create(ctx, svix.ApplicationIn{Name: fmt.Sprintf("app %d", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			continue
		}
		if _, err := c.Endpoint.Create(ctx, a.Id, svix.EndpointIn{Url: "https://example.com/hook"}, nil); err != nil {
			t.Fatal(err)
		}
		want[a.Id] = true
	}
	seen := map[string]bool{}
	var iter *string
	for page := 1; ; page++ {
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		list, err := c.Application.List(ctx, &svix.ApplicationListOptions{ExcludeAppsWithNoEndpoints: ptr(true), Limit: ptr(uint64(4)), Iterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list.Data {
			if !want[a.Id] || seen[a.Id] {
				t.Fatalf("page %d lists %s: without endpoints, or twice", page, a.Id)
			}
			seen[a.Id] = true
		}
		if list.Done {
			break
		}
		if len(list.Data) != 4 {
			t.Fatalf("page %d has %d applications and is not the last", page, len(list.Data))
		}
		iter = list.Iterator
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d applications with endpoints, want %d", len(seen), len(want))
	}
	all, err := c.Application.List(ctx, &svix.ApplicationListOptions{ExcludeAppsWithNoEndpoints: ptr(false)})
	if err != nil || len(all.Data) != 9 {
		t.Fatalf("without the filter: %d applications, %v; want 9", len(all.Data), err)
	}
}

func TestApplicationPagination(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i := range 7 {
		a, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: fmt.Sprintf("app %d", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[a.Id] = true
	}
	seen := map[string]bool{}
	var iter *string
	pages := 0
	for {
		pages++
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		list, err := ts.client.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr(uint64(3)), Iterator: iter})
		if err != nil {
			t.Fatalf("list page %d: %v", pages, err)
		}
		if len(list.Data) > 3 {
			t.Fatalf("page %d has %d items, limit 3", pages, len(list.Data))
		}
		for _, a := range list.Data {
			if seen[a.Id] {
				t.Fatalf("app %s listed twice", a.Id)
			}
			seen[a.Id] = true
		}
		if list.Done {
			break
		}
		iter = list.Iterator
	}
	if pages != 3 || len(seen) != len(want) {
		t.Fatalf("%d pages, %d apps; want 3 pages, %d apps", pages, len(seen), len(want))
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("app %s not listed", id)
		}
	}
	// Ascending order walks the same apps in the opposite direction.
	var asc []string
	iter = nil
	for page := 1; ; page++ {
		if page > 10 {
			t.Fatal("ascending pagination does not end")
		}
		list, err := ts.client.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr(uint64(3)), Iterator: iter, Order: ptr(svix.Ordering("ascending"))})
		if err != nil {
			t.Fatalf("ascending page %d: %v", page, err)
		}
		for _, a := range list.Data {
			asc = append(asc, a.Id)
		}
		if list.Done {
			break
		}
		iter = list.Iterator
	}
	if len(asc) != len(want) || !slices.IsSorted(asc) {
		t.Fatalf("ascending walk = %v, want all %d apps in ascending order", asc, len(want))
	}
}

func TestEndpoints(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{
		Url: "https://example.com/hook", Uid: ptr("main"), Description: ptr("main endpoint"),
		FilterTypes: []string{"invoice.paid"}, Channels: []string{"eu"}, ThrottleRate: ptr(uint16(5)),
		Metadata: &map[string]string{"team": "billing"},
	}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(ep.Id, "ep_") || ep.Url != "https://example.com/hook" || val(ep.Uid) != "main" ||
		ep.FilterTypes[0] != "invoice.paid" || ep.Channels[0] != "eu" || val(ep.ThrottleRate) != 5 || ep.Version != 1 || val(ep.Disabled) ||
		ep.Metadata["team"] != "billing" {
		t.Fatalf("created endpoint = %+v", ep)
	}
	t.Run("get by uid", func(t *testing.T) {
		got, err := c.Endpoint.Get(ctx, app.Id, "main")
		if err != nil || got.Id != ep.Id || got.Description != "main endpoint" {
			t.Fatalf("get = %+v, %v", got, err)
		}
	})
	t.Run("list", func(t *testing.T) {
		for i := range 4 {
			if _, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: fmt.Sprintf("https://example.com/%d", i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		first, err := c.Endpoint.List(ctx, "acme", &svix.EndpointListOptions{Limit: ptr(uint64(3))})
		if err != nil || len(first.Data) != 3 || first.Done {
			t.Fatalf("first page = %d items done=%v, %v", len(first.Data), first.Done, err)
		}
		second, err := c.Endpoint.List(ctx, "acme", &svix.EndpointListOptions{Limit: ptr(uint64(3)), Iterator: first.Iterator})
		if err != nil || len(second.Data) != 2 || !second.Done {
			t.Fatalf("second page = %d items done=%v, %v", len(second.Data), second.Done, err)
		}
	})
	t.Run("order", func(t *testing.T) {
		// An application of its own, so the subtest runs alone as well as after "list".
		if _, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Order", Uid: ptr("order")}, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := c.Endpoint.Create(ctx, "order", svix.EndpointIn{Url: fmt.Sprintf("https://example.com/order/%d", i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		desc, err := c.Endpoint.List(ctx, "order", &svix.EndpointListOptions{Order: ptr(svix.Ordering("descending"))})
		if err != nil {
			t.Fatal(err)
		}
		asc, err := c.Endpoint.List(ctx, "order", &svix.EndpointListOptions{Order: ptr(svix.Ordering("ascending"))})
		if err != nil {
			t.Fatal(err)
		}
		if len(asc.Data) != 5 || len(desc.Data) != 5 {
			t.Fatalf("%d ascending and %d descending, want 5 each", len(asc.Data), len(desc.Data))
		}
		for i := range asc.Data {
			if asc.Data[i].Id != desc.Data[len(desc.Data)-1-i].Id || i > 0 && asc.Data[i-1].Id >= asc.Data[i].Id {
				t.Fatalf("ascending list is not sorted or not the reverse of the descending one")
			}
		}
	})
	t.Run("disabled and metadata", func(t *testing.T) {
		off, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/off", Disabled: ptr(true), Metadata: &map[string]string{"a": "1"}}, nil)
		if err != nil || !val(off.Disabled) || off.Metadata["a"] != "1" {
			t.Fatalf("create disabled = %+v, %v", off, err)
		}
		got, err := c.Endpoint.Patch(ctx, "acme", off.Id, svix.EndpointPatch{Disabled: ptr(false), Metadata: &map[string]string{"b": "2"}})
		if err != nil || val(got.Disabled) || got.Metadata["b"] != "2" || got.Metadata["a"] != "" {
			t.Fatalf("patch = %+v, %v", got, err)
		}
		got, err = c.Endpoint.Get(ctx, "acme", off.Id)
		if err != nil || val(got.Disabled) || got.Metadata["b"] != "2" {
			t.Fatalf("get after patch = %+v, %v", got, err)
		}
		if err := c.Endpoint.Delete(ctx, "acme", off.Id); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("update and patch", func(t *testing.T) {
		got, err := c.Endpoint.Update(ctx, "acme", "main", svix.EndpointUpdate{Url: "https://example.com/v2", Uid: ptr("main")})
		if err != nil || got.Url != "https://example.com/v2" || len(got.FilterTypes) != 0 || got.RateLimit != nil {
			t.Fatalf("update = %+v, %v", got, err)
		}
		got, err = c.Endpoint.Patch(ctx, "acme", "main", svix.EndpointPatch{Disabled: ptr(true), FilterTypes: nullable([]string{"a.b"})})
		if err != nil || !val(got.Disabled) || got.FilterTypes[0] != "a.b" || got.Url != "https://example.com/v2" {
			t.Fatalf("patch = %+v, %v", got, err)
		}
	})
	t.Run("headers", func(t *testing.T) {
		if err := c.Endpoint.UpdateHeaders(ctx, "acme", "main", svix.EndpointHeadersIn{Headers: map[string]string{"X-Team": "billing", "Authorization": "Bearer abc"}}); err != nil {
			t.Fatalf("put headers: %v", err)
		}
		if err := c.Endpoint.PatchHeaders(ctx, "acme", "main", svix.EndpointHeadersPatchIn{Headers: map[string]string{"X-Extra": "1"}}); err != nil {
			t.Fatalf("patch headers: %v", err)
		}
		h, err := c.Endpoint.GetHeaders(ctx, "acme", "main")
		if err != nil || h.Headers["X-Team"] != "billing" || h.Headers["X-Extra"] != "1" || len(h.Sensitive) != 1 || h.Headers["Authorization"] != "" {
			t.Fatalf("headers = %+v, %v", h, err)
		}
		if err := c.Endpoint.PatchHeaders(ctx, "acme", "main", svix.EndpointHeadersPatchIn{Headers: map[string]string{"X-New": "2"}, DeleteHeaders: []string{"x-extra"}}); err != nil {
			t.Fatalf("patch headers with deleteHeaders: %v", err)
		}
		h, err = c.Endpoint.GetHeaders(ctx, "acme", "main")
		if err != nil || h.Headers["X-Team"] != "billing" || h.Headers["X-New"] != "2" || len(h.Headers) != 2 || len(h.Sensitive) != 1 {
			t.Fatalf("headers after deleteHeaders = %+v, %v; want X-Extra gone", h, err)
		}
		err = c.Endpoint.UpdateHeaders(ctx, "acme", "main", svix.EndpointHeadersIn{Headers: map[string]string{"webhook-id": "x"}})
		wantStatus(t, err, http.StatusUnprocessableEntity)
	})
	t.Run("secret", func(t *testing.T) {
		s1, err := c.Endpoint.GetSecret(ctx, "acme", "main")
		if err != nil || !strings.HasPrefix(s1.Key, "whsec_") {
			t.Fatalf("secret = %+v, %v", s1, err)
		}
		if err := c.Endpoint.RotateSecret(ctx, "acme", "main", svix.EndpointSecretRotateIn{}, nil); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		s2, err := c.Endpoint.GetSecret(ctx, "acme", "main")
		if err != nil || s2.Key == s1.Key || !strings.HasPrefix(s2.Key, "whsec_") {
			t.Fatalf("after rotation secret = %+v (before %s), %v", s2, s1.Key, err)
		}
		given := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		if err := c.Endpoint.RotateSecret(ctx, "acme", "main", svix.EndpointSecretRotateIn{Key: &given}, nil); err != nil {
			t.Fatalf("rotate to given key: %v", err)
		}
		s3, err := c.Endpoint.GetSecret(ctx, "acme", "main")
		if err != nil || s3.Key != given {
			t.Fatalf("after rotation to given key = %+v, %v", s3, err)
		}
		err = c.Endpoint.RotateSecret(ctx, "acme", "main", svix.EndpointSecretRotateIn{Key: ptr("whsec_short")}, nil)
		wantStatus(t, err, http.StatusUnprocessableEntity)
		// The previous key keeps signing for the grace period.
		ep, err := ts.srv.Store().Endpoint(ctx, app.Id, "main")
		if err != nil {
			t.Fatal(err)
		}
		if keys := ep.SigningKeys(time.Now()); len(keys) != 3 || keys[0] != given || keys[1] != s2.Key {
			t.Fatalf("signing keys = %d keys, want current then the previous two", len(keys))
		}
	})
	t.Run("stats", func(t *testing.T) {
		st, err := c.Endpoint.GetStats(ctx, "acme", "main", nil)
		if err != nil || st.Success != 0 || st.Pending != 0 {
			t.Fatalf("stats = %+v, %v", st, err)
		}
		since, until := time.Now().Add(-time.Hour), time.Now()
		if _, err := c.Endpoint.GetStats(ctx, "acme", "main", &svix.EndpointGetStatsOptions{Since: &since, Until: &until}); err != nil {
			t.Fatalf("stats with since and until: %v", err)
		}
	})
	t.Run("extensions", func(t *testing.T) {
		code, body := ts.raw(t, "POST", "/api/v1/app/acme/endpoint",
			`{"url":"https://example.com/ext","signatureProfile":"github","retrySchedule":"short","timeoutMs":2500}`)
		if code != http.StatusCreated {
			t.Fatalf("create with extensions: %d %s", code, body)
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		if out["signatureProfile"] != "github" || out["retrySchedule"] != "short" || out["timeoutMs"] != 2500.0 {
			t.Fatalf("extension fields = %s", body)
		}
		// The SDKs cannot send the extensions: an update through one keeps them.
		id := out["id"].(string)
		if _, err := c.Endpoint.Update(ctx, "acme", id, svix.EndpointUpdate{Url: "https://example.com/ext2"}); err != nil {
			t.Fatal(err)
		}
		code, body = ts.raw(t, "GET", "/api/v1/app/acme/endpoint/"+id, "")
		if code != http.StatusOK || !strings.Contains(string(body), `"signatureProfile":"github"`) || !strings.Contains(string(body), `"retrySchedule":"short"`) ||
			!strings.Contains(string(body), `"timeoutMs":2500`) || !strings.Contains(string(body), `"url":"https://example.com/ext2"`) {
			t.Fatalf("after an SDK update: %d %s", code, body)
		}
		// null resets an extension to the default, which is shown, not hidden.
		code, body = ts.raw(t, "PUT", "/api/v1/app/acme/endpoint/"+id, `{"url":"https://example.com/ext2","signatureProfile":null,"retrySchedule":null,"timeoutMs":null}`)
		if code != http.StatusOK || !strings.Contains(string(body), `"signatureProfile":"standard"`) || !strings.Contains(string(body), `"retrySchedule":null`) ||
			!strings.Contains(string(body), `"timeoutMs":null`) {
			t.Fatalf("PUT with null extensions: %d %s", code, body)
		}
		for _, bad := range []string{`{"url":"https://e.com","signatureProfile":"nope"}`, `{"url":"https://e.com","retrySchedule":"soon"}`, `{"url":"https://e.com","timeoutMs":-1}`} {
			if code, body := ts.raw(t, "POST", "/api/v1/app/acme/endpoint", bad); code != http.StatusUnprocessableEntity {
				t.Errorf("POST %s: %d %s, want 422", bad, code, body)
			}
		}
	})
	t.Run("every spelling", func(t *testing.T) {
		// Each renamed field is read under both names and answered under both, so that
		// the 2.x SDKs (eventTypes, throttleRate) and the Go SDK (filterTypes, rateLimit)
		// read back what was written.
		for _, body := range []string{
			`{"url":"https://example.com/new","eventTypes":["x.y"],"throttleRate":7}`,
			`{"url":"https://example.com/old","filterTypes":["x.y"],"rateLimit":7}`,
		} {
			code, out := ts.raw(t, "POST", "/api/v1/app/acme/endpoint", body)
			if code != http.StatusCreated {
				t.Fatalf("create %s: %d %s", body, code, out)
			}
			for _, want := range []string{`"filterTypes":["x.y"]`, `"eventTypes":["x.y"]`, `"rateLimit":7`, `"throttleRate":7`} {
				if !strings.Contains(string(out), want) {
					t.Errorf("create %s answered %s, without %s", body, out, want)
				}
			}
		}
	})
	t.Run("invalid url", func(t *testing.T) {
		for _, u := range []string{"ftp://example.com", "example.com/hook", "http://", "https://user:pw@example.com"} {
			_, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: u}, nil)
			wantStatus(t, err, http.StatusUnprocessableEntity)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := c.Endpoint.Delete(ctx, "acme", "main"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		_, err := c.Endpoint.Get(ctx, "acme", "main")
		wantStatus(t, err, http.StatusNotFound)
	})
}

// TestEndpointRoundTrip writes an endpoint back as it was read, by update and by
// patch, and checks that every field survives, the filters above all: an SDK that read
// them back empty would clear them, and the endpoint would then receive every event.
func TestEndpointRoundTrip(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", ThrottleRate: ptr(uint16(40)), Metadata: &map[string]string{"tier": "1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if val(app.ThrottleRate) != 40 || val(app.RateLimit) != 40 {
		t.Fatalf("app rate limit read back as throttleRate %v, rateLimit %v; want 40 twice", app.ThrottleRate, app.RateLimit)
	}
	created, err := c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{
		Url: "https://example.com/hook", Uid: ptr("billing"), Description: ptr("billing events"),
		FilterTypes: []string{"invoice.paid", "invoice.failed"}, Channels: []string{"eu", "vip"},
		ThrottleRate: ptr(uint16(25)), Metadata: &map[string]string{"team": "billing"},
		Headers: &map[string]string{"X-Team": "billing"},
	}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	check := func(t *testing.T, what string, got *svix.EndpointOut) {
		t.Helper()
		if got.Id != created.Id || got.Url != "https://example.com/hook" || val(got.Uid) != "billing" || got.Description != "billing events" ||
			!slices.Equal(got.FilterTypes, []string{"invoice.paid", "invoice.failed"}) || !slices.Equal(got.Channels, []string{"eu", "vip"}) ||
			val(got.ThrottleRate) != 25 || val(got.RateLimit) != 25 || got.Metadata["team"] != "billing" || len(got.Metadata) != 1 || val(got.Disabled) ||
			!got.CreatedAt.Equal(created.CreatedAt) {
			t.Fatalf("%s = %+v, want the endpoint as created (%+v)", what, got, created)
		}
	}
	check(t, "create answer", created)
	got, err := c.Endpoint.Get(ctx, app.Id, created.Id)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "get", got)
	h, err := c.Endpoint.GetHeaders(ctx, app.Id, created.Id)
	if err != nil || h.Headers["X-Team"] != "billing" {
		t.Fatalf("headers given on create = %+v, %v", h, err)
	}

	// Read, modify nothing, write back: by update (PUT) and by patch.
	updated, err := c.Endpoint.Update(ctx, app.Id, created.Id, svix.EndpointUpdate{
		Url: got.Url, Uid: got.Uid, Description: &got.Description, FilterTypes: got.FilterTypes,
		Channels: got.Channels, ThrottleRate: got.ThrottleRate, Metadata: &got.Metadata, Disabled: got.Disabled,
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	check(t, "update answer", updated)
	patched, err := c.Endpoint.Patch(ctx, app.Id, created.Id, svix.EndpointPatch{Description: &got.Description})
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	check(t, "patch answer", patched)
	got, err = c.Endpoint.Get(ctx, app.Id, created.Id)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "get after update and patch", got)
	if h, err := c.Endpoint.GetHeaders(ctx, app.Id, created.Id); err != nil || h.Headers["X-Team"] != "billing" {
		t.Fatalf("headers after an update without them = %+v, %v; want them kept", h, err)
	}
	list, err := c.Endpoint.List(ctx, app.Id, nil)
	if err != nil || len(list.Data) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	check(t, "list", &list.Data[0])

	// The filter still filters after the round trips.
	for _, et := range []string{"invoice.paid", "user.created"} {
		if _, err := c.Message.Create(ctx, app.Id, svix.MessageIn{EventType: et, Payload: map[string]any{}, Channels: []string{"eu"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := c.MessageAttempt.ListAttemptedMessages(ctx, app.Id, created.Id, nil)
	if err != nil || len(msgs.Data) != 1 || msgs.Data[0].EventType != "invoice.paid" {
		t.Fatalf("messages to the filtered endpoint = %+v, %v; want only invoice.paid", msgs, err)
	}

	// A patch clears a filter and a rate limit with null, under either name.
	cleared, err := c.Endpoint.Patch(ctx, app.Id, created.Id, svix.EndpointPatch{
		FilterTypes: utils.NewNullableFromPtr[[]string](nil), ThrottleRate: utils.NewNullableFromPtr[uint16](nil),
	})
	if err != nil || len(cleared.FilterTypes) != 0 || cleared.ThrottleRate != nil || cleared.RateLimit != nil || len(cleared.Channels) != 2 {
		t.Fatalf("patch with nulls = %+v, %v", cleared, err)
	}
	_, err = c.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: "https://example.com/x", Headers: &map[string]string{"Webhook-Id": "x"}}, nil)
	wantStatus(t, err, http.StatusUnprocessableEntity)
}

func TestEventTypes(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	for _, name := range []string{"invoice.paid", "invoice.failed", "user.created"} {
		if _, err := c.EventType.Create(ctx, svix.EventTypeIn{Name: name, Description: "about " + name}, nil); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	_, err := c.EventType.Create(ctx, svix.EventTypeIn{Name: "invoice.paid", Description: "again"}, nil)
	wantStatus(t, err, http.StatusConflict)

	got, err := c.EventType.Get(ctx, "invoice.paid")
	if err != nil || got.Description != "about invoice.paid" || got.Deprecated {
		t.Fatalf("get = %+v, %v", got, err)
	}
	got, err = c.EventType.Update(ctx, "invoice.paid", svix.EventTypeUpdate{Description: "paid", Deprecated: ptr(true),
		Schemas: &map[string]any{"1": map[string]any{"type": "object"}}})
	if err != nil || got.Description != "paid" || !got.Deprecated || got.Schemas == nil {
		t.Fatalf("update = %+v, %v", got, err)
	}
	got, err = c.EventType.Patch(ctx, "invoice.paid", svix.EventTypePatch{Description: ptr("paid!")})
	if err != nil || got.Description != "paid!" || !got.Deprecated {
		t.Fatalf("patch = %+v, %v", got, err)
	}
	list, err := c.EventType.List(ctx, &svix.EventTypeListOptions{Limit: ptr(uint64(2))})
	if err != nil || len(list.Data) != 2 || list.Done || list.Data[0].Name != "invoice.failed" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := c.EventType.Delete(ctx, "user.created", nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	archived, err := c.EventType.Get(ctx, "user.created")
	if err != nil || !val(archived.Archived) {
		t.Fatalf("deleted event type = %+v, %v; want archived", archived, err)
	}
	list, err = c.EventType.List(ctx, nil)
	if err != nil || len(list.Data) != 2 || !list.Done {
		t.Fatalf("list without archived = %+v, %v", list, err)
	}
	list, err = c.EventType.List(ctx, &svix.EventTypeListOptions{IncludeArchived: ptr(true)})
	if err != nil || len(list.Data) != 3 {
		t.Fatalf("list with archived = %+v, %v", list, err)
	}
	t.Run("archive and unarchive", func(t *testing.T) {
		got, err := c.EventType.Patch(ctx, "invoice.failed", svix.EventTypePatch{Archived: ptr(true)})
		if err != nil || !val(got.Archived) || got.Description != "about invoice.failed" {
			t.Fatalf("archive by patch = %+v, %v", got, err)
		}
		list, err := c.EventType.List(ctx, nil)
		if err != nil || len(list.Data) != 1 || list.Data[0].Name != "invoice.paid" {
			t.Fatalf("list after archiving = %+v, %v", list, err)
		}
		got, err = c.EventType.Update(ctx, "invoice.failed", svix.EventTypeUpdate{Description: "failed", Archived: ptr(false)})
		if err != nil || val(got.Archived) || got.Description != "failed" {
			t.Fatalf("unarchive by update = %+v, %v", got, err)
		}
		got, err = c.EventType.Patch(ctx, "user.created", svix.EventTypePatch{Archived: ptr(false)})
		if err != nil || val(got.Archived) {
			t.Fatalf("unarchive a deleted event type = %+v, %v", got, err)
		}
		got, err = c.EventType.Patch(ctx, "user.created", svix.EventTypePatch{Archived: ptr(true)})
		if err != nil || !val(got.Archived) {
			t.Fatalf("archive again = %+v, %v", got, err)
		}
		_, err = c.EventType.Patch(ctx, "no.such.type", svix.EventTypePatch{Archived: ptr(true)})
		wantStatus(t, err, http.StatusNotFound)
	})
	if err := c.EventType.Delete(ctx, "user.created", &svix.EventTypeDeleteOptions{Expunge: ptr(true)}); err != nil {
		t.Fatalf("expunge: %v", err)
	}
	_, err = c.EventType.Get(ctx, "user.created")
	wantStatus(t, err, http.StatusNotFound)
	t.Run("retrySchedule kept by an SDK update", func(t *testing.T) {
		if code, body := ts.raw(t, "POST", "/api/v1/event-type", `{"name":"with.schedule","description":"x","retrySchedule":"short"}`); code != 201 {
			t.Fatalf("create with retrySchedule: %d %s", code, body)
		}
		if _, err := c.EventType.Update(ctx, "with.schedule", svix.EventTypeUpdate{Description: "y"}); err != nil {
			t.Fatal(err)
		}
		if code, body := ts.raw(t, "GET", "/api/v1/event-type/with.schedule", ""); code != 200 || !strings.Contains(string(body), `"retrySchedule":"short"`) {
			t.Fatalf("after an SDK update: %d %s", code, body)
		}
		if code, body := ts.raw(t, "PUT", "/api/v1/event-type/with.schedule", `{"description":"y","retrySchedule":null}`); code != 200 || !strings.Contains(string(body), `"retrySchedule":null`) {
			t.Fatalf("PUT with a null retrySchedule: %d %s", code, body)
		}
	})
	_, err = c.EventType.Create(ctx, svix.EventTypeIn{Name: "bad name!", Description: "x"}, nil)
	wantStatus(t, err, http.StatusUnprocessableEntity)
}

func TestMessages(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client
	app, err := c.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/all"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	paidOnly, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/paid", FilterTypes: []string{"invoice.paid"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	euOnly, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/eu", Channels: []string{"eu"}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	msg, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "invoice.paid", EventId: ptr("evt-1"),
		Payload: map[string]interface{}{"amount": 100.0}, Channels: []string{"us"}}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(msg.Id, "msg_") || msg.EventType != "invoice.paid" || msg.Payload["amount"] != 100.0 || val(msg.EventId) != "evt-1" {
		t.Fatalf("created message = %+v", msg)
	}
	t.Run("fan-out", func(t *testing.T) {
		dests, err := c.MessageAttempt.ListAttemptedDestinations(ctx, "acme", msg.Id, nil)
		if err != nil {
			t.Fatalf("destinations: %v", err)
		}
		got := map[string]bool{}
		for _, d := range dests.Data {
			got[d.Id] = true
		}
		if len(got) != 2 || !got[all.Id] || !got[paidOnly.Id] || got[euOnly.Id] {
			t.Fatalf("destinations = %v, want %s and %s", got, all.Id, paidOnly.Id)
		}
		msgs, err := c.MessageAttempt.ListAttemptedMessages(ctx, "acme", paidOnly.Id, nil)
		if err != nil || len(msgs.Data) != 1 || msgs.Data[0].Id != msg.Id {
			t.Fatalf("attempted messages = %+v, %v", msgs, err)
		}
	})
	t.Run("duplicate eventId", func(t *testing.T) {
		_, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "invoice.paid", EventId: ptr("evt-1"), Payload: map[string]interface{}{}}, nil)
		wantStatus(t, err, http.StatusConflict)
		list, err := c.Message.List(ctx, "acme", nil)
		if err != nil || len(list.Data) != 1 {
			t.Fatalf("after duplicate: %d messages, %v", len(list.Data), err)
		}
	})
	t.Run("get", func(t *testing.T) {
		for _, id := range []string{msg.Id, "evt-1"} {
			got, err := c.Message.Get(ctx, app.Id, id, nil)
			if err != nil || got.Id != msg.Id || got.Payload["amount"] != 100.0 || !got.Timestamp.Equal(msg.Timestamp) {
				t.Fatalf("get %s = %+v, %v; want it as created (%+v)", id, got, err, msg)
			}
		}
		_, err := c.Message.Get(ctx, app.Id, "msg_nope", nil)
		wantStatus(t, err, http.StatusNotFound)
	})
	t.Run("list with filters and pages", func(t *testing.T) {
		for i := range 5 {
			et := "user.created"
			if i%2 == 0 {
				et = "invoice.failed"
			}
			if _, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: et, Payload: map[string]interface{}{"i": i}, Channels: []string{"eu"}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		seen := 0
		var iter *string
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatal("pagination does not end")
			}
			list, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{Limit: ptr(uint64(2)), Iterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			seen += len(list.Data)
			if list.Done {
				break
			}
			iter = list.Iterator
		}
		if seen != 6 {
			t.Fatalf("listed %d messages over pages, want 6", seen)
		}
		list, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{EventTypes: &[]string{"invoice.failed"}})
		if err != nil || len(list.Data) != 3 {
			t.Fatalf("event_types filter: %d, %v", len(list.Data), err)
		}
		list, err = c.Message.List(ctx, "acme", &svix.MessageListOptions{Channel: ptr("eu"), WithContent: ptr(false)})
		if err != nil || len(list.Data) != 5 || len(list.Data[0].Payload) != 0 {
			t.Fatalf("channel filter without content: %+v, %v", list, err)
		}
		euMsgs, err := c.MessageAttempt.ListAttemptedMessages(ctx, "acme", euOnly.Id, nil)
		if err != nil || len(euMsgs.Data) != 5 {
			t.Fatalf("messages to the eu endpoint: %d, %v", len(euMsgs.Data), err)
		}
	})
	t.Run("time and tag filters", func(t *testing.T) {
		// Whatever the subtests before this one sent (none when it runs alone) was
		// sent before the mark.
		prior, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{Limit: ptr(uint64(250))})
		if err != nil {
			t.Fatal(err)
		}
		// The SDK sends before and after to the second: the mark is the next whole one.
		mark := time.Now().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(mark) + 10*time.Millisecond)
		var tagged []string
		for i := range 2 {
			m, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "x.tagged", Payload: map[string]interface{}{"i": i}, Tags: []string{"vip"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tagged = append(tagged, m.Id)
		}
		after, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{After: &mark})
		if err != nil || len(after.Data) != 2 {
			t.Fatalf("after filter: %d messages, %v; want the 2 sent after the mark", len(after.Data), err)
		}
		before, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{Before: &mark})
		if err != nil || len(before.Data) != len(prior.Data) {
			t.Fatalf("before filter: %d messages, %v; want the %d sent before the mark", len(before.Data), err, len(prior.Data))
		}
		byTag, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{Tag: ptr("vip")})
		if err != nil || len(byTag.Data) != 2 || !slices.Contains(tagged, byTag.Data[0].Id) || !slices.Contains(byTag.Data[0].Tags, "vip") {
			t.Fatalf("tag filter: %+v, %v", byTag, err)
		}
		none, err := c.Message.List(ctx, "acme", &svix.MessageListOptions{Tag: ptr("vip"), EventTypes: &[]string{"invoice.paid"}})
		if err != nil || len(none.Data) != 0 {
			t.Fatalf("tag and event type filters together: %d messages, %v; want 0", len(none.Data), err)
		}
	})
	t.Run("attempts", func(t *testing.T) {
		if _, err := c.MessageAttempt.ListByMsg(ctx, "acme", msg.Id, nil); err != nil {
			t.Fatalf("attempts by message: %v", err)
		}
		if _, err := c.MessageAttempt.ListByEndpoint(ctx, "acme", all.Id, &svix.MessageAttemptListByEndpointOptions{Status: ptr(svix.MessageStatus(0))}); err != nil {
			t.Fatalf("attempts by endpoint: %v", err)
		}
		if _, err := c.MessageAttempt.ListByMsg(ctx, "acme", msg.Id, &svix.MessageAttemptListByMsgOptions{EndpointId: &all.Id}); err != nil {
			t.Fatalf("attempts of message to endpoint: %v", err)
		}
		_, err := c.MessageAttempt.Get(ctx, "acme", msg.Id, "atmpt_nope", nil)
		wantStatus(t, err, http.StatusNotFound)
		_, err = c.MessageAttempt.ListByMsg(ctx, "acme", "msg_nope", nil)
		wantStatus(t, err, http.StatusNotFound)
	})
	t.Run("resend, recover, replay", func(t *testing.T) {
		if err := resend(c, ctx, "acme", msg.Id, all.Id); err != nil {
			t.Fatalf("resend: %v", err)
		}
		wantStatus(t, resend(c, ctx, "acme", msg.Id, "ep_nope"), http.StatusNotFound)
		rec, err := c.Endpoint.Recover(ctx, "acme", all.Id, svix.RecoverIn{Since: time.Now().Add(-time.Hour)}, nil)
		if err != nil || rec.Task != "endpoint.recover" {
			t.Fatalf("recover = %+v, %v", rec, err)
		}
		// Messages of a channel of their own, so that the subtest runs alone as well
		// as after the others.
		for i := range 5 {
			if _, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "x.replayed", Payload: map[string]interface{}{"i": i}, Channels: []string{"replayed"}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		// An endpoint created after the messages has none of them until replayed.
		late, err := c.Endpoint.Create(ctx, "acme", svix.EndpointIn{Url: "https://example.com/late", Channels: []string{"replayed"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		lateMsgs, err := c.MessageAttempt.ListAttemptedMessages(ctx, "acme", late.Id, nil)
		if err != nil || len(lateMsgs.Data) != 0 {
			t.Fatalf("before replay the new endpoint has %d messages, %v; want 0", len(lateMsgs.Data), err)
		}
		rep, err := c.Endpoint.ReplayMissing(ctx, "acme", late.Id, svix.ReplayIn{Since: time.Now().Add(-time.Hour)}, nil)
		if err != nil || rep.Task != "endpoint.replay" || rep.Status != "running" {
			t.Fatalf("replay = %+v, %v", rep, err)
		}
		if done := waitTaskSDK(t, c, rep.Id); done.Status != "finished" || done.Data["messagesSent"] != 5.0 {
			t.Fatalf("replay task = %+v, want finished with 5 messages sent", done)
		}
		lateMsgs, err = c.MessageAttempt.ListAttemptedMessages(ctx, "acme", late.Id, nil)
		if err != nil || len(lateMsgs.Data) != 5 {
			t.Fatalf("after replay the new endpoint has %d messages, %v; want the 5 on its channel", len(lateMsgs.Data), err)
		}
	})
	t.Run("inline application", func(t *testing.T) {
		code, body := ts.raw(t, "POST", "/api/v1/app/inline-app/msg", `{"eventType":"a.b","payload":{},"application":{"name":"Inline"}}`)
		if code != http.StatusAccepted {
			t.Fatalf("message creating its app: %d %s", code, body)
		}
		got, err := c.Application.Get(ctx, "inline-app")
		if err != nil || got.Name != "Inline" {
			t.Fatalf("inline app = %+v, %v", got, err)
		}
	})
}

func TestIdempotency(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	opts := &svix.ApplicationCreateOptions{IdempotencyKey: ptr("key-1")}
	a1, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Once"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Once"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a1.Id != a2.Id {
		t.Fatalf("same idempotency key created two apps: %s and %s", a1.Id, a2.Id)
	}
	a3, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Once"}, &svix.ApplicationCreateOptions{IdempotencyKey: ptr("key-2")})
	if err != nil {
		t.Fatal(err)
	}
	if a3.Id == a1.Id {
		t.Fatal("different idempotency keys returned the same app")
	}
	list, err := ts.client.Application.List(ctx, nil)
	if err != nil || len(list.Data) != 2 {
		t.Fatalf("%d apps, %v; want 2", len(list.Data), err)
	}
	// The key is scoped by path: the same key on another path is another request.
	m1, err := ts.client.Message.Create(ctx, a1.Id, svix.MessageIn{EventType: "x", Payload: map[string]interface{}{}}, &svix.MessageCreateOptions{IdempotencyKey: opts.IdempotencyKey})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ts.client.Message.Create(ctx, a1.Id, svix.MessageIn{EventType: "x", Payload: map[string]interface{}{}}, &svix.MessageCreateOptions{IdempotencyKey: opts.IdempotencyKey})
	if err != nil || m1.Id != m2.Id || !strings.HasPrefix(m1.Id, "msg_") {
		t.Fatalf("repeated message create = %v, %v, %v", m1.Id, m2.Id, err)
	}
}

func TestErrors(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if _, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	t.Run("wrong token", func(t *testing.T) {
		_, err := newClient(t, ts.url, "not-the-token").Application.List(ctx, nil)
		wantStatus(t, err, http.StatusUnauthorized)
		resp, err := http.Get(ts.url + "/api/v1/app")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no token: status %d, want 401", resp.StatusCode)
		}
		// JSON, not HTML: <, > and & are not escaped.
		if !strings.Contains(string(body), "Bearer <token>") {
			t.Fatalf("no token: body %s, want the message with <token> as it is", body)
		}
	})
	t.Run("unknown ids", func(t *testing.T) {
		_, err := ts.client.Application.Get(ctx, "app_nope")
		wantStatus(t, err, http.StatusNotFound)
		var body struct{ Code, Detail string }
		var se *svix.Error
		if errors.As(err, &se) {
			if err := json.Unmarshal(se.Body(), &body); err != nil || body.Code != "not_found" || body.Detail == "" {
				t.Fatalf("404 body = %s", se.Body())
			}
		}
		_, err = ts.client.Endpoint.Get(ctx, "acme", "ep_nope")
		wantStatus(t, err, http.StatusNotFound)
		_, err = ts.client.Message.Create(ctx, "nope", svix.MessageIn{EventType: "a", Payload: map[string]interface{}{}}, nil)
		wantStatus(t, err, http.StatusNotFound)
	})
	tests := []struct {
		name, method, path, body string
		want                     int
		wantLoc                  string
	}{
		{name: "malformed JSON", method: "POST", path: "/api/v1/app", body: `{"name":`, want: 400},
		{name: "not JSON", method: "POST", path: "/api/v1/app", body: `name=x`, want: 400},
		{name: "wrong type", method: "POST", path: "/api/v1/app", body: `{"name":42}`, want: 422, wantLoc: "name"},
		{name: "unknown field", method: "POST", path: "/api/v1/app", body: `{"name":"x","colour":"red"}`, want: 422, wantLoc: "colour"},
		{name: "field in another case", method: "POST", path: "/api/v1/app", body: `{"Name":"x"}`, want: 422, wantLoc: "Name"},
		{name: "unknown field after a nested payload", method: "POST", path: "/api/v1/app/acme/msg",
			body: `{"eventType":"a","payload":{"s":"}\",{[","n":[1,{"x":null}],"t":true} , "Colour":1}`, want: 422, wantLoc: "Colour"},
		{name: "trailing data", method: "POST", path: "/api/v1/app", body: `{"name":"x"} {}`, want: 400},
		{name: "missing field", method: "POST", path: "/api/v1/app", body: `{}`, want: 422, wantLoc: "name"},
		{name: "bad uid", method: "POST", path: "/api/v1/app", body: `{"name":"x","uid":"a b"}`, want: 422, wantLoc: "uid"},
		{name: "payload not an object", method: "POST", path: "/api/v1/app/acme/msg", body: `{"eventType":"a","payload":[1]}`, want: 422, wantLoc: "payload"},
		{name: "payload missing", method: "POST", path: "/api/v1/app/acme/msg", body: `{"eventType":"a"}`, want: 422, wantLoc: "payload"},
		{name: "bad limit", method: "GET", path: "/api/v1/app?limit=x", want: 422, wantLoc: "limit"},
		{name: "garbage iterator", method: "GET", path: "/api/v1/app?iterator=%27%3B%20drop%20table", want: 422, wantLoc: "iterator"},
		{name: "bad date", method: "GET", path: "/api/v1/app/acme/msg?before=yesterday", want: 422, wantLoc: "before"},
		{name: "payload too large", method: "POST", path: "/api/v1/app/acme/msg",
			body: `{"eventType":"a","payload":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`, want: 413},
		{name: "payload over limit within envelope", method: "POST", path: "/api/v1/app/acme/msg",
			body: `{"eventType":"a","payload":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`, want: 413},
		{name: "unknown path", method: "GET", path: "/api/v1/nothing", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ts.raw(t, tt.method, tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("%s %s: status %d (%s), want %d", tt.method, tt.path, code, truncate(body), tt.want)
			}
			if tt.want == 422 {
				var v struct {
					Detail []struct {
						Loc  []string
						Msg  string
						Type string
					}
				}
				if err := json.Unmarshal(body, &v); err != nil || len(v.Detail) != 1 || v.Detail[0].Msg == "" ||
					v.Detail[0].Loc[len(v.Detail[0].Loc)-1] != tt.wantLoc {
					t.Fatalf("422 body = %s, want detail at %q", body, tt.wantLoc)
				}
				return
			}
			var v struct{ Code, Detail string }
			if err := json.Unmarshal(body, &v); err != nil || v.Code == "" || v.Detail == "" {
				t.Fatalf("error body = %s, want code and detail", truncate(body))
			}
		})
	}
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func TestOperationalEndpoints(t *testing.T) {
	ts := startServer(t)
	for _, tt := range []struct {
		path string
		want int
		has  string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ok"},
		{"/api/v1/health", 204, ""},
		{"/metrics", 200, "hookd_api_requests_total"},
		{"/openapi.json", 200, `"openapi"`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			// /metrics lists the API counters once a request was counted.
			_, _ = http.Get(ts.url + "/api/v1/health")
			req, _ := http.NewRequest("GET", ts.url+tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want || !bytes.Contains(b, []byte(tt.has)) {
				t.Fatalf("GET %s: %d %s", tt.path, resp.StatusCode, truncate(b))
			}
		})
	}
}

func TestAdminTokenGenerated(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hookd.db")
	open := func() *server.Server {
		cfg := server.DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.DB = db
		srv := server.New(cfg)
		if err := srv.Open(context.Background()); err != nil {
			t.Fatalf("open: %v", err)
		}
		return srv
	}
	srv := open()
	token := srv.NewAdminToken()
	if !strings.HasPrefix(token, "hkd_") {
		t.Fatalf("first start: token %q", token)
	}
	if _, err := newClient(t, srv.URL(), token).Application.List(context.Background(), nil); err != nil {
		t.Fatalf("generated token: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = open()
	t.Cleanup(func() { _ = srv.Close() })
	if srv.NewAdminToken() != "" {
		t.Fatal("second start made a new token")
	}
	if _, err := newClient(t, srv.URL(), token).Application.List(context.Background(), nil); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
}

// TestIdempotencyExpires checks that an idempotent answer is replayed within
// IdempotencyTTL and forgotten by the purge after it.
func TestIdempotencyExpires(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	ts := startServer(t, func(c *server.Config) {
		c.Now = func() time.Time { return *clock.Load() }
		c.IdempotencyTTL = time.Hour
	})
	ctx := context.Background()
	opts := &svix.ApplicationCreateOptions{IdempotencyKey: ptr("key-ttl")}
	app, err := ts.client.Application.Create(ctx, svix.ApplicationIn{Name: "Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func() string {
		t.Helper()
		m, err := ts.client.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "x", Payload: map[string]any{}}, &svix.MessageCreateOptions{IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			t.Fatal(err)
		}
		return m.Id
	}
	first := send()
	later := start.Add(59 * time.Minute)
	clock.Store(&later)
	if err := ts.srv.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if again := send(); again != first {
		t.Fatalf("within the TTL the key answered %s, want the first answer %s", again, first)
	}
	expired := start.Add(61 * time.Minute)
	clock.Store(&expired)
	if err := ts.srv.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if fresh := send(); fresh == first {
		t.Fatalf("after the TTL and a purge the key still answered %s", first)
	}
}

// nullable is v as an explicitly set SDK Nullable.
func nullable[T any](v T) utils.Nullable[T] { return utils.NewNullable(v) }

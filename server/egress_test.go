package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
)

// TestRequireHTTPSAtAPI refuses http:// endpoint URLs with a 422 naming the field,
// server-wide with --require-https and per application with requireHttps, and logs
// why; https:// URLs are accepted.
func TestRequireHTTPSAtAPI(t *testing.T) {
	for _, tt := range []struct {
		name   string
		server bool
		reason string
	}{
		{"server", true, "--require-https"},
		{"application", false, "requireHttps"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs hookdtest.LogBuffer
			ts := startServer(t, func(c *server.Config) {
				c.RequireHTTPS = tt.server
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			body := `{"name":"Acme"}`
			if !tt.server {
				body = `{"name":"Acme","requireHttps":true}`
			}
			code, b := ts.raw(t, "POST", "/api/v1/app", body)
			if code != http.StatusCreated {
				t.Fatalf("create app = %d %s", code, b)
			}
			var app struct {
				ID           string `json:"id"`
				RequireHTTPS bool   `json:"requireHttps"`
			}
			must(t, json.Unmarshal(b, &app))
			if app.RequireHTTPS != !tt.server {
				t.Errorf("requireHttps = %v, want %v", app.RequireHTTPS, !tt.server)
			}
			eps := "/api/v1/app/" + app.ID + "/endpoint"
			wantRefused := func(code int, b []byte) {
				t.Helper()
				var e struct {
					Detail []struct {
						Loc []string `json:"loc"`
						Msg string   `json:"msg"`
					} `json:"detail"`
				}
				_ = json.Unmarshal(b, &e)
				if code != http.StatusUnprocessableEntity || len(e.Detail) != 1 || strings.Join(e.Detail[0].Loc, ".") != "body.url" ||
					!strings.Contains(e.Detail[0].Msg, tt.reason) {
					t.Fatalf("got %d %s, want 422 naming body.url and %s", code, b, tt.reason)
				}
			}
			wantRefused(ts.raw(t, "POST", eps, `{"url":"http://example.com/hook"}`))
			wantRefused(ts.raw(t, "PUT", eps+"/new-uid", `{"url":"HTTP://example.com/hook"}`))
			code, b = ts.raw(t, "POST", eps, `{"url":"https://example.com/hook"}`)
			if code != http.StatusCreated {
				t.Fatalf("https endpoint = %d %s", code, b)
			}
			var ep struct {
				ID string `json:"id"`
			}
			must(t, json.Unmarshal(b, &ep))
			wantRefused(ts.raw(t, "PUT", eps+"/"+ep.ID, `{"url":"http://example.com/hook"}`))
			wantRefused(ts.raw(t, "PATCH", eps+"/"+ep.ID, `{"url":"http://example.com/hook"}`))
			if code, b := ts.raw(t, "PATCH", eps+"/"+ep.ID, `{"description":"still https"}`); code != http.StatusOK {
				t.Fatalf("patch description = %d %s", code, b)
			}
			l := logs.String()
			if n := strings.Count(l, "endpoint URL refused"); n != 4 || !strings.Contains(l, tt.reason) {
				t.Errorf("log has %d refusals, want 4 with the reason %s:\n%s", n, tt.reason, l)
			}
		})
	}
	t.Run("patch app", func(t *testing.T) {
		ts := startServer(t)
		code, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"Acme"}`)
		var app struct {
			ID string `json:"id"`
		}
		must(t, json.Unmarshal(b, &app))
		eps := "/api/v1/app/" + app.ID + "/endpoint"
		if code, b = ts.raw(t, "POST", eps, `{"url":"http://example.com/a"}`); code != http.StatusCreated {
			t.Fatalf("http endpoint before the setting = %d %s", code, b)
		}
		if code, b = ts.raw(t, "PATCH", "/api/v1/app/"+app.ID, `{"requireHttps":true}`); code != http.StatusOK || !strings.Contains(string(b), `"requireHttps":true`) {
			t.Fatalf("patch app = %d %s", code, b)
		}
		if code, b = ts.raw(t, "POST", eps, `{"url":"http://example.com/b"}`); code != http.StatusUnprocessableEntity {
			t.Fatalf("http endpoint after the setting = %d %s, want 422", code, b)
		}
	})
}

// TestEgressIPs publishes --egress-ips at GET /api/v1/egress-ips.
func TestEgressIPs(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.EgressIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("198.51.100.0/28")}
	})
	code, b := ts.raw(t, "GET", "/api/v1/egress-ips", "")
	if code != http.StatusOK || string(b) != `{"egressIps":["203.0.113.7","198.51.100.0/28"]}` {
		t.Fatalf("egress-ips = %d %q", code, b)
	}
	ts = startServer(t)
	if code, b := ts.raw(t, "GET", "/api/v1/egress-ips", ""); code != http.StatusOK || string(b) != `{"egressIps":[]}` {
		t.Fatalf("egress-ips without any = %d %q", code, b)
	}
}

// TestEgressConfig refuses bad --proxy and --source-addr values at start.
func TestEgressConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*server.Config)
		want string
	}{
		{"socks5h", func(c *server.Config) { c.Proxy = "socks5h://127.0.0.1:1080" }, "proxy:"},
		{"no port", func(c *server.Config) { c.Proxy = "http://proxy" }, "proxy:"},
		{"not local", func(c *server.Config) { c.SourceAddrs = []netip.Addr{netip.MustParseAddr("192.0.2.1")} }, "source-addr:"},
		{"operational http", func(c *server.Config) {
			c.RequireHTTPS = true
			c.OperationalWebhookURL, c.OperationalWebhookSecret = "http://ops.example.com/", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		}, "operational-webhook-url:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.Addr = "127.0.0.1:0"
			cfg.DB = t.TempDir() + "/hookd.db"
			cfg.AdminToken = adminToken
			tt.edit(&cfg)
			srv := server.New(cfg)
			err := srv.Open(context.Background())
			if err == nil {
				srv.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCIDRs parses --allow-cidr and --egress-ips into networks and checks, in
// Validate, the networks a Config is given directly.
func TestCIDRs(t *testing.T) {
	t.Parallel()
	t.Run("parse", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			flag   string
			in     []string
			addrOK bool
			want   []netip.Prefix
			err    string
		}{
			{"allow-cidr", []string{"10.0.0.0/8", " 192.168.1.7/24 "}, false, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.0/24")}, ""},
			{"allow-cidr", []string{"::ffff:10.1.0.0/112"}, false, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, ""},
			{"allow-cidr", []string{"10.0.0.1"}, false, nil, `allow-cidr: "10.0.0.1" is not a CIDR`},
			{"egress-ips", []string{"203.0.113.7", "2001:db8::/32"}, true, []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8::/32")}, ""},
			{"egress-ips", []string{"nope"}, true, nil, `egress-ips: "nope" is not an IP address or a CIDR`},
		} {
			got, err := server.ParseCIDRs(tt.flag, tt.in, tt.addrOK)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseCIDRs(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				continue
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseCIDRs(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		}
	})
	t.Run("validate", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			name string
			edit func(*server.Config)
			want string
		}{
			{"zero", func(c *server.Config) { c.AllowCIDRs = []netip.Prefix{{}} }, "allow-cidr:"},
			{"host bits", func(c *server.Config) {
				c.AllowCIDRs = []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8)}
			}, "allow-cidr: 10.0.0.1/8 has host bits set"},
			{"mapped", func(c *server.Config) { c.EgressIPs = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")} }, "egress-ips:"},
		} {
			cfg := server.DefaultConfig()
			tt.edit(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Validate = %v, want an error with %q", tt.name, err, tt.want)
			}
		}
		cfg := server.DefaultConfig()
		cfg.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate with 10.0.0.0/8 = %v", err)
		}
	})
}

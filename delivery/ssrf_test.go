package delivery_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

func TestGuardControl(t *testing.T) {
	tests := []struct {
		addr   string
		reason string // "" means allowed
	}{
		{"127.0.0.1:80", "loopback"},
		{"127.8.9.10:443", "loopback"},
		{"10.0.0.1:80", "private"},
		{"172.16.5.4:80", "private"},
		{"192.168.1.1:80", "private"},
		{"169.254.169.254:80", "link-local"},
		{"100.64.0.1:80", "carrier-grade NAT"},
		{"0.0.0.0:80", "reserved"},
		{"224.0.0.1:80", "multicast"},
		{"240.0.0.1:80", "reserved"},
		{"255.255.255.255:80", "reserved"},
		{"198.18.0.1:80", "benchmarking"},
		{"192.0.2.1:80", "documentation"},
		{"[::1]:80", "loopback"},
		{"[::]:80", "unspecified"},
		{"[::ffff:127.0.0.1]:80", "IPv4-mapped form of a loopback"},
		{"[::ffff:169.254.169.254]:80", "IPv4-mapped form of a link-local"},
		{"[::ffff:10.0.0.1]:80", "IPv4-mapped form of a private"},
		{"[64:ff9b::a00:1]:80", "NAT64 form of a private"},
		{"[2002:7f00:1::1]:80", "6to4 form of a loopback"},
		{"[fc00::1]:80", "unique local"},
		{"[fd12:3456::1]:80", "unique local"},
		{"[fe80::1%25eth0]:80", "link-local"},
		{"[ff02::1]:80", "multicast"},
		{"[2001:db8::1]:80", "documentation"},
		{"93.184.215.14:443", ""},
		{"8.8.8.8:53", ""},
		{"[2606:4700::1111]:443", ""},
		{"[::ffff:8.8.8.8]:443", ""},
		{"[64:ff9b::808:808]:443", ""},
	}
	var g delivery.Guard
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			addr := strings.Replace(tt.addr, "%25", "%", 1)
			err := g.Control("tcp", addr, nil)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused a public address: %v", err)
				}
				return
			}
			var re *delivery.RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Control(%s) = %v, want a RefusedError", addr, err)
			}
			if !strings.Contains(err.Error(), tt.reason) || !strings.HasPrefix(err.Error(), "refused by SSRF guard: ") {
				t.Fatalf("error %q does not say %q", err, tt.reason)
			}
		})
	}
	t.Run("allow private", func(t *testing.T) {
		g := delivery.Guard{AllowPrivate: true}
		for _, a := range []string{"127.0.0.1:80", "[::1]:80", "169.254.169.254:80"} {
			if err := g.Control("tcp", a, nil); err != nil {
				t.Errorf("%s: %v", a, err)
			}
		}
	})
	t.Run("allow CIDR", func(t *testing.T) {
		g := delivery.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
		if err := g.Control("tcp", "10.1.2.3:80", nil); err != nil {
			t.Errorf("allowed network refused: %v", err)
		}
		if err := g.Control("tcp", "[::ffff:10.1.2.3]:80", nil); err != nil {
			t.Errorf("mapped form of an allowed network refused: %v", err)
		}
		if err := g.Control("tcp", "10.2.0.1:80", nil); err == nil {
			t.Error("network outside the allowlist let through")
		}
	})
}

func TestSSRFGuardRefusesDelivery(t *testing.T) {
	tests := []struct {
		name   string
		host   func(url string) string
		allow  []netip.Prefix
		refuse bool
	}{
		{"loopback address", func(u string) string { return u }, nil, true},
		{"name resolving to loopback", func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }, nil, true},
		{"allowlisted network", func(u string) string { return u }, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *delivery.Config) { c.AllowPrivate, c.AllowCIDRs = false, tt.allow })
			rc := newReceiver(t, status(http.StatusOK))
			ep := e.endpoint(tt.host(rc.URL))
			msg := e.send("a", nil, `{}`)
			if !tt.refuse {
				e.waitDelivery(msg.ID, ep.ID, hookd.StatusSuccess)
				return
			}
			as := e.waitAttempts(msg.ID, 1)
			e.waitDelivery(msg.ID, ep.ID, hookd.StatusPending)
			if !strings.Contains(as[0].Error, "refused by SSRF guard") || !strings.Contains(as[0].Error, "loopback") {
				t.Fatalf("attempt error %q, want the SSRF guard's reason", as[0].Error)
			}
			if n := len(rc.requests()); n != 0 {
				t.Fatalf("receiver got %d requests", n)
			}
		})
	}
}

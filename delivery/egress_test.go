package delivery_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/hookdtest"
)

// testProxy is a real proxy on loopback, HTTP CONNECT or SOCKS5, that records what it
// is asked for and from which local addresses it reaches the targets.
type testProxy struct {
	ln net.Listener
	mu sync.Mutex
	// conns counts the connections made to the proxy.
	conns int
	// targets are the addresses asked for, as given (CONNECT) or decoded (SOCKS5),
	// with "name:" in front of a SOCKS5 domain-name request.
	targets []string
	// upstream are the local addresses of the proxy's connections to targets.
	upstream map[string]bool
	// auth is the Proxy-Authorization header of the last CONNECT.
	auth string
}

func newTestProxy(t *testing.T, socks bool) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{ln: ln, upstream: map[string]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
			if socks {
				go p.serveSOCKS(c)
			} else {
				go p.serveCONNECT(c)
			}
		}
	}()
	return p
}

func (p *testProxy) snapshot() (conns int, targets []string, upstream map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	up := map[string]bool{}
	for k := range p.upstream {
		up[k] = true
	}
	return p.conns, append([]string(nil), p.targets...), up
}

func (p *testProxy) serveCONNECT(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, req.Host)
	p.auth = req.Header.Get("Proxy-Authorization")
	p.mu.Unlock()
	up, err := p.dial(req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	pipe(c, br, up)
}

// serveSOCKS speaks SOCKS5 (RFC 1928) without authentication, CONNECT only.
func (p *testProxy) serveSOCKS(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	var hello [2]byte
	if _, err := io.ReadFull(br, hello[:]); err != nil || hello[0] != 5 {
		return
	}
	methods := make([]byte, hello[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	c.Write([]byte{5, 0})
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil || head[1] != 1 {
		return
	}
	var target string
	switch head[3] {
	case 1, 4: // IPv4, IPv6
		n := 4
		if head[3] == 4 {
			n = 16
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return
		}
		ip, _ := netip.AddrFromSlice(b[:n])
		target = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[n:])).String()
	case 3: // a name, which the proxy would resolve: recorded, never dialled
		l, _ := br.ReadByte()
		b := make([]byte, int(l)+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return
		}
		target = "name:" + net.JoinHostPort(string(b[:l]), strconv.Itoa(int(binary.BigEndian.Uint16(b[l:]))))
	default:
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	if strings.HasPrefix(target, "name:") {
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	up, err := p.dial(target)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	pipe(c, br, up)
}

func (p *testProxy) dial(target string) (net.Conn, error) {
	up, err := net.Dial("tcp", target)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.upstream[up.LocalAddr().String()] = true
	p.mu.Unlock()
	return up, nil
}

// pipe copies both ways until either side ends.
func pipe(c net.Conn, br *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// remoteAddrs returns the receiver's view of where each request came from.
func remoteAddrs(t *testing.T) (*receiver, func() []string) {
	var mu sync.Mutex
	var from []string
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		from = append(from, r.RemoteAddr)
		mu.Unlock()
	})
	return rc, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), from...)
	}
}

// TestProxy sends through a real CONNECT proxy and a real SOCKS5 proxy: every delivery
// goes through it, hookd asks for the IP address it checked (never a name), and a
// target the SSRF guard refuses is refused before the proxy is asked.
func TestProxy(t *testing.T) {
	for _, kind := range []string{"http", "socks5"} {
		t.Run(kind, func(t *testing.T) {
			px := newTestProxy(t, kind == "socks5")
			rc, from := remoteAddrs(t)
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(rc.URL, "http://"))
			proxyURL := &url.URL{Scheme: kind, Host: px.ln.Addr().String()}
			if kind == "http" {
				proxyURL.User = url.UserPassword("hookd", "s3cret")
			}
			e := newEnv(t, func(c *delivery.Config) {
				// The guard is on: only the receiver's address is let through.
				c.AllowPrivate = false
				c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
				c.Egress.Proxy = proxyURL
			})
			// By name: hookd resolves localhost itself and asks for 127.0.0.1.
			ep := e.endpoint("http://localhost:" + port + "/hook")
			var msgs []*hookd.Message
			for range 5 {
				msgs = append(msgs, e.send("invoice.paid", nil, `{"n":1}`))
			}
			for _, m := range msgs {
				e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
			}
			conns, targets, upstream := px.snapshot()
			if conns == 0 || len(targets) != conns {
				t.Fatalf("proxy saw %d connections and %d requests, want as many, at least one", conns, len(targets))
			}
			for _, tg := range targets {
				if tg != "127.0.0.1:"+port {
					t.Errorf("proxy asked for %q, want the checked address 127.0.0.1:%s", tg, port)
				}
			}
			got := from()
			if len(got) != 5 {
				t.Fatalf("receiver got %d requests, want 5", len(got))
			}
			for _, a := range got {
				if !upstream[a] {
					t.Errorf("request from %s did not come through the proxy (its connections: %v)", a, upstream)
				}
			}
			if kind == "http" && px.auth != "Basic aG9va2Q6czNjcmV0" {
				t.Errorf("Proxy-Authorization = %q, want the proxy URL's credentials", px.auth)
			}

			// Refused targets: by address, and loopback outside the allowed /32 — the
			// proxy must not hear of them.
			if err := e.store.DeleteEndpoint(context.Background(), e.app.ID, ep.ID); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://127.0.0.2:" + port + "/"} {
				bad := e.endpoint(u)
				m := e.send("invoice.paid", nil, `{}`)
				att := e.waitAttempts(m.ID, 1)[0]
				if !strings.Contains(att.Error, "refused by SSRF guard") {
					t.Fatalf("attempt to %s = %q, want refused by the SSRF guard", u, att.Error)
				}
				if err := e.store.DeleteEndpoint(context.Background(), e.app.ID, bad.ID); err != nil {
					t.Fatal(err)
				}
			}
			if n, tg, _ := px.snapshot(); n != conns || len(tg) != len(targets) {
				t.Errorf("proxy saw %d connections (%v) after refused targets, want still %d", n, tg, conns)
			}
		})
	}
}

// TestParseProxy checks the --proxy forms accepted and refused.
func TestParseProxy(t *testing.T) {
	for _, tt := range []struct {
		in, err string
	}{
		{"http://proxy:3128", ""},
		{"http://u:p@10.0.0.1:3128", ""},
		{"socks5://127.0.0.1:1080", ""},
		{"socks5h://127.0.0.1:1080", "SSRF guard"},
		{"https://proxy:443", "not http"},
		{"http://proxy", "host and a port"},
		{"http://proxy:3128/path", "path"},
		{"::", "invalid URL"},
	} {
		_, err := delivery.ParseProxy(tt.in)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseProxy(%q) = %v, want error containing %q", tt.in, err, tt.err)
		}
	}
}

// TestSourceAddr binds deliveries to 127.0.0.2 or 127.0.0.3: the receiver sees the
// configured one. With both, new connections take them in turn.
func TestSourceAddr(t *testing.T) {
	for _, tt := range []struct {
		name  string
		addrs []string
	}{
		{"127.0.0.2", []string{"127.0.0.2"}},
		{"127.0.0.3", []string{"127.0.0.3"}},
		{"both", []string{"127.0.0.2", "127.0.0.3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]int{}
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				mu.Lock()
				seen[host]++
				mu.Unlock()
				w.Header().Set("Connection", "close") // a new connection each time
			})
			e := newEnv(t, func(c *delivery.Config) {
				for _, a := range tt.addrs {
					c.Egress.SourceAddrs = append(c.Egress.SourceAddrs, netip.MustParseAddr(a))
				}
			})
			ep := e.endpoint(rc.URL)
			for range 4 {
				m := e.send("invoice.paid", nil, `{}`)
				e.waitDelivery(m.ID, ep.ID, hookd.StatusSuccess)
			}
			mu.Lock()
			defer mu.Unlock()
			total := 0
			for _, a := range tt.addrs {
				if seen[a] == 0 {
					t.Errorf("receiver saw no request from %s: %v", a, seen)
				}
				total += seen[a]
			}
			if total != 4 {
				t.Errorf("receiver saw requests from %v, want 4 from %v only", seen, tt.addrs)
			}
		})
	}
}

// TestRequireHTTPSAtDelivery refuses http:// endpoints written before HTTPS was
// required, server-wide or by the application, with the reason in the attempt log.
func TestRequireHTTPSAtDelivery(t *testing.T) {
	for _, tt := range []struct {
		name   string
		server bool
		reason string
	}{
		{"server", true, "--require-https"},
		{"application", false, "requireHttps"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			var logs hookdtest.LogBuffer
			e := newEnv(t, func(c *delivery.Config) {
				c.RequireHTTPS = tt.server
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			if !tt.server {
				e.app.RequireHTTPS = true
				if err := e.store.UpdateApp(context.Background(), e.app); err != nil {
					t.Fatal(err)
				}
			}
			ep := e.endpoint(rc.URL)
			m := e.send("invoice.paid", nil, `{}`)
			a := e.waitAttempts(m.ID, 1)[0]
			if a.Status != hookd.StatusFail || !strings.Contains(a.Error, "http://") || !strings.Contains(a.Error, tt.reason) {
				t.Errorf("attempt = %v %q, want a failure naming %s", a.Status, a.Error, tt.reason)
			}
			if n := len(rc.requests()); n != 0 {
				t.Errorf("receiver got %d requests, want none", n)
			}
			if l := logs.String(); !strings.Contains(l, "delivery refused") || !strings.Contains(l, tt.reason) {
				t.Errorf("log = %q, want the refusal with its reason", l)
			}
			if d := e.delivery(m.ID, ep.ID); d.Status != hookd.StatusPending {
				t.Errorf("delivery status = %v, want pending (retried on schedule, in case the URL is fixed)", d.Status)
			}
		})
	}
}

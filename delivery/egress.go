package delivery

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/proxy"
)

// Egress is how deliveries leave the host: from which local addresses, and through
// which proxy. The zero value dials directly from whatever address the system picks.
type Egress struct {
	// Proxy, if set, carries every request: http://[user:pass@]host:port asks it with
	// CONNECT, socks5://[user:pass@]host:port with SOCKS5. hookd resolves and checks
	// each target itself and asks the proxy for the checked IP address, never for a
	// name, so the proxy cannot reach what the SSRF guard refuses.
	Proxy *url.URL
	// SourceAddrs are the local addresses outgoing connections are bound to, in turn;
	// a target (or proxy) is dialled from one of its own address family.
	SourceAddrs []netip.Addr
}

// ParseProxy parses a --proxy value: an http:// (CONNECT) or socks5:// URL with a
// host and port and nothing else but optional user information.
func ParseProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	switch u.Scheme {
	case "http", "socks5":
	case "socks5h":
		return nil, errors.New("socks5h lets the proxy resolve names, which the SSRF guard cannot check; use socks5://")
	default:
		return nil, fmt.Errorf("scheme %q is not http (CONNECT) or socks5", u.Scheme)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, errors.New("proxy URL needs a host and a port, e.g. http://proxy:3128")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("proxy URL must not have a path, query or fragment")
	}
	return u, nil
}

// Redacted returns the proxy URL without its password, for logs.
func (e Egress) Redacted() string {
	if e.Proxy == nil {
		return ""
	}
	return e.Proxy.Redacted()
}

// dialer opens guarded connections for one client.
type dialer struct {
	guard   Guard
	egress  Egress
	timeout time.Duration
	next    atomic.Uint32 // round robin over egress.SourceAddrs
	// lookup resolves a host name; net.DefaultResolver's in production.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

func newDialer(g Guard, e Egress) *dialer {
	return &dialer{guard: g, egress: e, timeout: 10 * time.Second,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}}
}

// dial connects to addr (host:port) within timeout, refusing what the guard refuses
// before any connection, to the target or to the proxy, is made.
func (d *dialer) dial(addr string, timeout time.Duration) (net.Conn, error) {
	timeout = min(d.timeout, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if d.egress.Proxy == nil && len(d.egress.SourceAddrs) == 0 {
		// The guard runs in Control, on every address the dialer tries.
		nd := net.Dialer{KeepAlive: 30 * time.Second, Control: d.guard.Control}
		return nd.DialContext(ctx, "tcp", addr)
	}
	targets, err := d.resolve(ctx, addr)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, t := range targets {
		conn, err := d.dialOne(ctx, t)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// resolve returns the addresses of addr that the guard lets through, or the guard's
// refusal if it lets none.
func (d *dialer) resolve(ctx context.Context, addr string) ([]netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := net.LookupPort("tcp", portStr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = d.lookup(ctx, host); err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	var refused error
	for _, ip := range ips {
		ip = ip.Unmap()
		if err := d.guard.Check(ip); err != nil {
			refused = err
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(port)))
	}
	if len(out) == 0 {
		if refused == nil {
			refused = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		return nil, refused
	}
	return out, nil
}

// dialOne connects to the checked address t, through the proxy if there is one.
func (d *dialer) dialOne(ctx context.Context, t netip.AddrPort) (net.Conn, error) {
	p := d.egress.Proxy
	if p == nil {
		nd, err := d.netDialer(t.Addr())
		if err != nil {
			return nil, err
		}
		nd.Control = d.guard.Control
		return nd.DialContext(ctx, "tcp", t.String())
	}
	// The proxy is the operator's and often internal: it is not subject to the guard.
	proxyAddr := net.JoinHostPort(p.Hostname(), p.Port())
	var from netip.Addr
	if ip, err := netip.ParseAddr(p.Hostname()); err == nil {
		from = ip
	} else if len(d.egress.SourceAddrs) > 0 {
		ips, err := d.lookup(ctx, p.Hostname())
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("proxy: resolve %s: %w", p.Hostname(), err)
		}
		from = ips[0].Unmap()
		proxyAddr = net.JoinHostPort(from.String(), p.Port())
	}
	nd, err := d.netDialer(from)
	if err != nil {
		return nil, err
	}
	if p.Scheme == "socks5" {
		var auth *proxy.Auth
		if p.User != nil {
			pass, _ := p.User.Password()
			auth = &proxy.Auth{User: p.User.Username(), Password: pass}
		}
		sd, err := proxy.SOCKS5("tcp", proxyAddr, auth, nd)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		conn, err := sd.(proxy.ContextDialer).DialContext(ctx, "tcp", t.String())
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		return conn, nil
	}
	conn, err := nd.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	conn, err = connect(ctx, conn, t.String(), p.User)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return conn, nil
}

// netDialer returns a dialer bound to the next source address of to's family (none
// configured: unbound).
func (d *dialer) netDialer(to netip.Addr) (*net.Dialer, error) {
	nd := &net.Dialer{KeepAlive: 30 * time.Second}
	srcs := d.egress.SourceAddrs
	if len(srcs) == 0 || !to.IsValid() {
		return nd, nil
	}
	n := int(d.next.Add(1))
	for i := range srcs {
		s := srcs[(n+i)%len(srcs)]
		if s.Is4() == to.Unmap().Is4() {
			nd.LocalAddr = &net.TCPAddr{IP: s.AsSlice()}
			return nd, nil
		}
	}
	return nil, fmt.Errorf("no --source-addr of the address family of %s", to)
}

// connect asks an HTTP proxy on conn for a tunnel to target with CONNECT.
func connect(ctx context.Context, conn net.Conn, target string, user *url.Userinfo) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if user != nil {
		pass, _ := user.Password()
		fmt.Fprintf(&b, "Proxy-Authorization: Basic %s\r\n",
			base64.StdEncoding.EncodeToString([]byte(user.Username()+":"+pass)))
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s: %w", target, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s: proxy answered %s", target, resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn reads what the proxy sent after its answer before the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

package webhook

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes parses CIDRs ("192.0.2.0/24", "2001:db8::/32") and single addresses
// ("192.0.2.7", taken as /32 or /128) for Middleware.Sources and TrustedProxies.
func ParsePrefixes(cidrs ...string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if strings.Contains(c, "/") {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("%w: CIDR %q: %v", ErrInvalidOption, c, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(c)
		if err != nil {
			return nil, fmt.Errorf("%w: address %q: %v", ErrInvalidOption, c, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ClientAddr returns the address a request comes from. It is the connection's
// address unless that address is one of trusted (proxies), in which case
// X-Forwarded-For is walked from the right, skipping trusted proxies, and the first
// address not trusted is the client. An unparsable entry ends the walk with an
// invalid address, which no allowlist contains.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr := parseHostAddr(r.RemoteAddr)
	if !addr.IsValid() || len(trusted) == 0 || !containsAddr(trusted, addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		addr = parseHostAddr(hop)
		if !addr.IsValid() || !containsAddr(trusted, addr) {
			return addr
		}
	}
	return addr // every hop is a trusted proxy: the leftmost one is the client
}

// parseHostAddr parses "ip", "ip:port" or "[ipv6]:port" and unmaps IPv4-in-IPv6.
func parseHostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

package delivery

import (
	"fmt"
	"net/netip"
	"syscall"
)

// RefusedError is returned when the SSRF guard refuses to connect to an address.
type RefusedError struct {
	Addr   netip.Addr
	Reason string
}

// Error implements the error interface.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused by SSRF guard: %s is %s", e.Addr, e.Reason)
}

// blockedV4 are the IPv4 networks a webhook must never reach, with why.
var blockedV4 = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved \"this network\" address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a reserved relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

// blockedV6 are the IPv6 networks a webhook must never reach. IPv4-mapped,
// NAT64 and 6to4 addresses are judged by the IPv4 address they carry.
var blockedV6 = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::/96"), "a deprecated IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	{netip.MustParsePrefix("2001::/23"), "a reserved protocol address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local (private) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// blockedReason says why a is not a public unicast address, or "" if it is.
func blockedReason(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4In6() {
		if r := blockedReason(a.Unmap()); r != "" {
			return "an IPv4-mapped form of " + r
		}
		return ""
	}
	if a.Is4() {
		for _, b := range blockedV4 {
			if b.p.Contains(a) {
				return b.reason
			}
		}
		return ""
	}
	b16 := a.As16()
	if nat64Prefix.Contains(a) {
		if r := blockedReason(netip.AddrFrom4([4]byte(b16[12:16]))); r != "" {
			return "a NAT64 form of " + r
		}
		return ""
	}
	if sixToFour.Contains(a) {
		if r := blockedReason(netip.AddrFrom4([4]byte(b16[2:6]))); r != "" {
			return "a 6to4 form of " + r
		}
		return ""
	}
	for _, b := range blockedV6 {
		if b.p.Contains(a) {
			return b.reason
		}
	}
	return ""
}

// Guard decides which addresses deliveries may connect to. Its Control method is a
// net.Dialer Control function: it runs after name resolution, on the address
// actually dialled, so a name that resolves to an internal address (DNS rebinding
// included) is refused.
type Guard struct {
	// AllowPrivate lets every address through.
	AllowPrivate bool
	// Allow lists networks let through even though they are internal.
	Allow []netip.Prefix
}

// Check returns a *RefusedError if a may not be reached.
func (g Guard) Check(a netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	a = a.WithZone("")
	for _, p := range g.Allow {
		if p.Contains(a) || (a.Is4In6() && p.Contains(a.Unmap())) {
			return nil
		}
	}
	if r := blockedReason(a); r != "" {
		return &RefusedError{Addr: a, Reason: r}
	}
	return nil
}

// Control checks the host:port address a dialer is about to connect to.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused by SSRF guard: cannot parse address %q", address)
	}
	return g.Check(ap.Addr())
}

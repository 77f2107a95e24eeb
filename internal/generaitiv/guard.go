package generaitiv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrUnsafeLink is matched (errors.Is) by every refusal of the SSRF guard.
var ErrUnsafeLink = errors.New("unsafe link")

// UnsafeLinkError says why a link was refused.
type UnsafeLinkError struct {
	// Host is the host of the refused link.
	Host string
	// Reason says what was wrong with it.
	Reason string
}

func (e *UnsafeLinkError) Error() string {
	return fmt.Sprintf("unsafe link to %s: %s", e.Host, e.Reason)
}

// Is makes errors.Is(err, ErrUnsafeLink) true.
func (e *UnsafeLinkError) Is(target error) bool { return target == ErrUnsafeLink }

func asUnsafe(err error) *UnsafeLinkError {
	var u *UnsafeLinkError
	if errors.As(err, &u) {
		return u
	}
	return nil
}

// Guard dials only public addresses, except the hosts it is told are the
// upstreams. The check happens at dial time, on the addresses the name
// resolved to, and the connection goes to an address that was checked (a
// second lookup cannot swap in another); the dialer's Control hook checks
// the socket's address once more.
type Guard struct {
	allowHostPort map[string]bool
	resolver      *net.Resolver
	plain         *net.Dialer
	checked       *net.Dialer
}

// NewGuard builds a Guard. allow lists host:port values that may be
// dialled whatever they resolve to; the exemption holds for that exact host
// and port only. A bare host stands for its https port, 443.
func NewGuard(allow []string) *Guard {
	g := &Guard{allowHostPort: map[string]bool{}, resolver: net.DefaultResolver}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			h, p = a, "443"
		}
		g.allowHostPort[net.JoinHostPort(strings.Trim(h, "[]"), p)] = true
	}
	g.plain = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	g.checked = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &UnsafeLinkError{Host: address, Reason: "unparsable socket address"}
			}
			if reason := Forbidden(ap.Addr()); reason != "" {
				return &UnsafeLinkError{Host: address, Reason: reason}
			}
			return nil
		}}
	return g
}

func (g *Guard) allowed(host, port string) bool {
	return g.allowHostPort[net.JoinHostPort(strings.ToLower(host), port)]
}

// DialContext dials addr if it is an allowed upstream or resolves only to
// public addresses; otherwise it returns an *UnsafeLinkError without
// opening any connection.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &UnsafeLinkError{Host: addr, Reason: "no port"}
	}
	if g.allowed(host, portStr) {
		return g.plain.DialContext(ctx, network, addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, &UnsafeLinkError{Host: addr, Reason: "bad port"}
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("error resolving %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("error resolving %s: no addresses", host)
	}
	for _, ip := range ips {
		if reason := Forbidden(ip); reason != "" {
			return nil, &UnsafeLinkError{Host: host, Reason: fmt.Sprintf("%s resolves to %s (%s)", host, ip, reason)}
		}
	}
	var lastErr error
	for _, ip := range ips {
		conn, err := g.checked.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// Transport returns an http.Transport that dials through the guard and
// ignores proxy settings (a proxy would dial on our behalf, unchecked).
func (g *Guard) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// forbiddenPrefixes are the IANA special-purpose ranges (the IPv4 and IPv6
// special-purpose address registries) that are not globally reachable, and
// the other ranges no public host lives in (multicast, the deprecated
// site-local and IPv4-compatible IPv6 ranges). A few registry entries that
// are globally reachable (AS112 and the anycast services) sit inside
// 192.0.0.0/24 and 2001::/23; the guard refuses them too, since no image
// host lives there.
var forbiddenPrefixes = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},

	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "discard-only address"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol address"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("2002::/16"), "6to4 address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing address"},
	{netip.MustParsePrefix("fc00::/7"), "unique local address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

// nat64 is the well-known NAT64 prefix: an address in it stands for the
// IPv4 address in its last 32 bits, which is checked instead.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// globalUnicast is the only IPv6 range assigned for global unicast; the
// rest of the IPv6 space is reserved.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// Forbidden says why ip may not be dialled for a link ("" when it may):
// loopback, private, link-local (169.254.169.254, the cloud metadata
// service, among them), multicast, unspecified and every other range in
// forbiddenPrefixes. An IPv4-mapped or NAT64 address is judged by the IPv4
// address it carries.
func Forbidden(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	ip = ip.WithZone("").Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		if reason := Forbidden(netip.AddrFrom4([4]byte(b[12:]))); reason != "" {
			return "NAT64 address of a " + reason
		}
		return ""
	}
	for _, f := range forbiddenPrefixes {
		if f.p.Contains(ip) {
			return f.reason
		}
	}
	switch {
	case ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "non-public address"
	case ip.Is6() && !globalUnicast.Contains(ip):
		return "reserved address"
	}
	return ""
}

// checkRedirect follows at most 3 redirects, to http(s) only; each hop is
// dialled through the guard again.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("stopped after 3 redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &UnsafeLinkError{Host: req.URL.Host, Reason: "redirect to a non-http scheme"}
	}
	return nil
}

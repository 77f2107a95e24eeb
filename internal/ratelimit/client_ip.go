package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP decides which address a request comes from, for rate limiting.
// The zero value trusts no proxy and always returns the TCP peer. It is safe
// for concurrent use as long as TrustedProxies is not modified.
type ClientIP struct {
	// TrustedProxies are the networks of reverse proxies (load balancers,
	// CDNs) whose X-Forwarded-For entries are believed. Only list proxies that
	// append the address of their own peer to X-Forwarded-For; anyone else
	// can write any value there. Empty means none: the header is ignored.
	TrustedProxies []netip.Prefix
}

// FromRequest returns the client address of r.
//
// It starts from the TCP peer in r.RemoteAddr (IPv4-mapped IPv6 unmapped,
// zone dropped). If and only if the peer is inside a trusted prefix, it walks
// X-Forwarded-For (every header line, each a comma-separated list) from the
// right: each trusted proxy appended the address of its own peer, so the
// rightmost address that is not itself a trusted proxy is the client, and
// everything to its left is the client's own claim, which is ignored.
//
// The walk stops at the first entry that is not an address (such as
// "unknown"): nothing to its left can be attributed. FromRequest then returns
// the last trusted hop reached, which is the peer itself when the rightmost
// entry is already unusable or the header is absent. Empty items are
// skipped; entries may carry a port ("192.0.2.1:4711", "[2001:db8::1]:443").
//
// The result is the zero netip.Addr only if r.RemoteAddr cannot be parsed,
// which net/http's server never produces for TCP connections.
func (c *ClientIP) FromRequest(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !c.trusted(peer) {
		return peer
	}
	client := peer
	lines := r.Header.Values("X-Forwarded-For")
	for li := len(lines) - 1; li >= 0; li-- {
		rest := lines[li]
		for rest != "" {
			var item string
			if i := strings.LastIndexByte(rest, ','); i >= 0 {
				rest, item = rest[:i], rest[i+1:]
			} else {
				rest, item = "", rest
			}
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			addr := parseHostAddr(item)
			switch {
			case !addr.IsValid():
				return client
			case !c.trusted(addr):
				return addr
			}
			client = addr
		}
	}
	return client
}

// trusted reports whether addr is inside one of the trusted prefixes.
func (c *ClientIP) trusted(addr netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHostAddr parses "addr", "addr:port", "[addr]" or "[addr]:port", and
// returns the address unmapped and without zone, or the zero Addr.
func parseHostAddr(s string) netip.Addr {
	// Pick the parser by form rather than by trial, since a failed parse
	// allocates its error.
	var addr netip.Addr
	switch {
	case len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
		addr, _ = netip.ParseAddr(s[1 : len(s)-1])
	case s != "" && s[0] == '[', strings.Count(s, ":") == 1:
		ap, _ := netip.ParseAddrPort(s)
		addr = ap.Addr()
	default:
		addr, _ = netip.ParseAddr(s)
	}
	return addr.Unmap().WithZone("")
}

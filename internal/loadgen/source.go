package loadgen

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// DefaultSourceNet is where source addresses come from by default: on
// Linux the whole of 127.0.0.0/8 is the loopback interface, so any of its
// addresses can be bound without configuration. 127.0.0.1 is left out.
var DefaultSourceNet = netip.MustParsePrefix("127.1.0.0/16")

// SourceAddrs returns n distinct IPv4 addresses of prefix, in order,
// skipping the prefix's own address and any ending in .0 or .255.
func SourceAddrs(prefix netip.Prefix, n int) ([]netip.Addr, error) {
	if !prefix.Addr().Is4() {
		return nil, fmt.Errorf("source net %s: only IPv4 prefixes are supported", prefix)
	}
	prefix = prefix.Masked()
	addrs := make([]netip.Addr, 0, n)
	for a := prefix.Addr().Next(); len(addrs) < n; a = a.Next() {
		if !a.IsValid() || !prefix.Contains(a) {
			return nil, fmt.Errorf("source net %s has fewer than %d usable addresses", prefix, n)
		}
		if last := a.As4()[3]; last == 0 || last == 255 {
			continue
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// newClient returns a net/http client dialing with d, keeping up to idle
// connections open.
func newClient(d *net.Dialer, idle int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        idle,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

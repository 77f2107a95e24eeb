package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClientIP_FromRequest(t *testing.T) {
	t.Parallel()

	// Proxies: 10.0.0.0/8 (the load balancers) and 2001:db8:ffff::/48.
	trusted, err := prefixes("10.0.0.0/8, 2001:db8:ffff::/48")
	require.NoError(t, err)
	c := &ClientIP{TrustedProxies: trusted}

	tests := []struct {
		name       string
		client     *ClientIP
		remoteAddr string
		xff        []string // one element per header line
		want       string   // "" for the zero Addr
	}{
		{"AllTrustedReturnsLeftmostHop", c, "10.0.0.1:443", []string{"10.0.0.9, 10.0.0.5"}, "10.0.0.9"},
		{"GarbageOnlyReturnsPeer", c, "10.0.0.1:443", []string{"unknown"}, "10.0.0.1"},
		{"GarbageLeftOfClientIgnored", c, "10.0.0.1:443", []string{"not-an-ip, 999.1.1.1, 203.0.113.5"}, "203.0.113.5"},
		{"GarbageStopsTheWalk", c, "10.0.0.1:443", []string{"203.0.113.5, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"IPv6Client", c, "[2001:db8:ffff::1]:443", []string{"2001:db8:1::7, 2001:db8:ffff::2"}, "2001:db8:1::7"},
		{"IPv6ClientBracketedWithPort", c, "10.0.0.1:443", []string{"[2001:db8:1::7]:5555"}, "2001:db8:1::7"},
		{"IPv4ClientWithPort", c, "10.0.0.1:443", []string{"203.0.113.5:4711"}, "203.0.113.5"},
		{"IPv4MappedPeerIsTrusted", c, "[::ffff:10.0.0.1]:443", []string{"203.0.113.5"}, "203.0.113.5"},
		{"IPv4MappedXFFEntryUnmapped", c, "10.0.0.1:443", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"MultipleHeaderLines", c, "10.0.0.1:443", []string{"198.51.100.1, 198.51.100.2", "203.0.113.5", "10.0.0.3"}, "203.0.113.5"},
		{"NoTrustedProxiesIgnoresXFF", &ClientIP{}, "10.0.0.1:443", []string{"203.0.113.5"}, "10.0.0.1"},
		{"NoXFFReturnsPeer", c, "10.0.0.1:443", nil, "10.0.0.1"},
		{"PeerWithoutPort", c, "192.0.2.33", nil, "192.0.2.33"},
		{"PeerWithZone", c, "[fe80::1%eth0]:443", nil, "fe80::1"},
		{"RightmostUntrustedWins", c, "10.0.0.1:443", []string{"1.1.1.1, 2.2.2.2, 203.0.113.5"}, "203.0.113.5"},
		{"TrustedHopsSkipped", c, "10.0.0.1:443", []string{"1.1.1.1, 203.0.113.5, 10.0.0.7, 10.0.0.3"}, "203.0.113.5"},
		{"EmptyItemsSkipped", c, "10.0.0.1:443", []string{"203.0.113.5, , ", ""}, "203.0.113.5"},
		{"UnparsableRemoteAddr", c, "@", []string{"203.0.113.5"}, ""},
		{"UntrustedPeerIgnoresXFF", c, "192.0.2.33:5000", []string{"203.0.113.5", "10.0.0.3"}, "192.0.2.33"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := httptest.NewRequest("POST", "/v1/events", nil)
			r.RemoteAddr = tt.remoteAddr
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := tt.client.FromRequest(r)
			if tt.want == "" {
				require.False(t, got.IsValid(), "got %v", got)
				return
			}
			require.Equal(t, netip.MustParseAddr(tt.want), got)
		})
	}
}

func BenchmarkClientIP_FromRequest(b *testing.B) {
	trusted, err := prefixes("10.0.0.0/8, 172.16.0.0/12")
	require.NoError(b, err)
	c := &ClientIP{TrustedProxies: trusted}
	r := httptest.NewRequest("POST", "/v1/events", nil)
	r.RemoteAddr = "10.0.0.1:443"
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.5, 10.0.0.7")
	b.ReportAllocs()
	for b.Loop() {
		if c.FromRequest(r) != netip.MustParseAddr("203.0.113.5") {
			b.Fatal("wrong client")
		}
	}
}

// prefixes parses comma-separated CIDR prefixes (config.ParsePrefixes reads
// TRUSTED_PROXIES in production).
func prefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

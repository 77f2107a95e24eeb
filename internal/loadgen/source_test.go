package loadgen

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSourceAddrs(t *testing.T) {
	t.Parallel()

	t.Run("SkipsNetworkAndBroadcastLikeAddresses", func(t *testing.T) {
		t.Parallel()

		addrs, err := SourceAddrs(netip.MustParsePrefix("127.1.0.0/16"), 256)
		require.NoError(t, err)
		require.Len(t, addrs, 256)
		require.Equal(t, "127.1.0.1", addrs[0].String())
		require.Equal(t, "127.1.0.254", addrs[253].String())
		require.Equal(t, "127.1.1.1", addrs[254].String())
		seen := map[netip.Addr]bool{}
		for _, a := range addrs {
			require.False(t, seen[a])
			seen[a] = true
		}
	})

	t.Run("PrefixTooSmall", func(t *testing.T) {
		t.Parallel()

		_, err := SourceAddrs(netip.MustParsePrefix("127.9.9.0/30"), 4)
		require.ErrorContains(t, err, "fewer than 4")
	})

	t.Run("IPv6Refused", func(t *testing.T) {
		t.Parallel()

		_, err := SourceAddrs(netip.MustParsePrefix("::1/128"), 1)
		require.ErrorContains(t, err, "IPv4")
	})

	t.Run("SourcesFor", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, 1, SourcesFor(0, 9))
		require.Equal(t, 12, SourcesFor(100, 9))
		require.Equal(t, 10, SourcesFor(90, 9))
		require.Equal(t, 12, SourcesFor(100, 0), "defaults the per-source rate")
	})
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

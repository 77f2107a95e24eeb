package testutil

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// FreeAddr returns a loopback address with a port nothing listens on at
// the time of the call, for a process under test to listen on, or for a
// dependency that is down.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer ln.Close()
	return ln.Addr().String()
}

// FreePort is FreeAddr's port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

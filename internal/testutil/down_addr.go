//go:build unix

package testutil

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// DownAddr returns a loopback address that refuses connections until the
// test ends, for a dependency that is down. Its port is held by a socket
// bound to it that never listens: a connection is refused, and the kernel
// does not hand the port to another process's listener picking a free
// one, as it can a FreeAddr port once that is closed.
func DownAddr(tb testing.TB) string {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(tb, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(tb, err)
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

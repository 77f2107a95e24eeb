//go:build !linux

package blobtest

import "testing"

// MountTmpfs skips the test: size-limited tmpfs mounts are Linux only.
func MountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	t.Skip("skipping: a size-limited tmpfs needs Linux")
	return ""
}

package blobtest

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size bytes on a new temporary directory and
// returns it, unmounting it when the test ends: a small real filesystem
// that fills up. It needs root (CI runs as root); elsewhere the test is
// skipped, saying why.
func MountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a size-limited tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("error unmounting tmpfs %s: %v", dir, err)
		}
	})
	return dir
}

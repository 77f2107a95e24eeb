//go:build !unix

package blob

// freeBytes cannot read the free space here; the reserve is not enforced.
func freeBytes(string) (int64, bool) { return 0, false }

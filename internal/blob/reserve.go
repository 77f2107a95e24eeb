package blob

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// reserveCheckEvery is how many bytes a Put writes between two looks at
// the free space when far above the reserve; nearer to it, it looks before
// each write that could cross it.
const reserveCheckEvery = 1 << 20

// storageError wraps err from a storage operation, marking a full
// filesystem or an exhausted quota as ErrInsufficientStorage.
func storageError(doing string, err error) error {
	switch {
	case errors.Is(err, ErrInsufficientStorage):
		return err
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %s: %w", ErrInsufficientStorage, doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// headroom is how many bytes may still be written before the free space
// falls to the reserve; ok is false when the free space cannot be read,
// and the reserve is then not enforced (a full filesystem still fails).
func (s *DirStore) headroom() (int64, bool) {
	free, ok := freeBytes(s.dir)
	if !ok {
		return 0, false
	}
	return free - s.minFree, true
}

// reserveWriter refuses a write that would take the filesystem's free
// space below the store's reserve. It reads the free space only every
// reserveCheckEvery bytes, or sooner when the last reading left less
// headroom than that.
type reserveWriter struct {
	w         io.Writer
	s         *DirStore
	written   int64
	nextCheck int64
}

func (r *reserveWriter) Write(p []byte) (int, error) {
	if r.s.minFree > 0 && r.written+int64(len(p)) > r.nextCheck {
		headroom, ok := r.s.headroom()
		switch {
		case !ok:
			r.nextCheck = r.written + reserveCheckEvery
		case headroom < int64(len(p)):
			return 0, ErrInsufficientStorage
		default:
			r.nextCheck = r.written + min(headroom, reserveCheckEvery)
		}
	}
	n, err := r.w.Write(p)
	r.written += int64(n)
	return n, err
}

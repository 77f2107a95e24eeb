package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

var _ Store = (*DirStore)(nil)

// DirStore keeps blobs as files under a directory: <dir>/<k[0:2]>/<k[2:4]>/<k>.
// Content is written to a temporary file, fsynced and renamed into place, so
// a crash never leaves a partial blob under a key. Several processes may
// share one directory.
type DirStore struct {
	dir     string
	minFree int64
}

// DirStoreConfig configures a DirStore.
type DirStoreConfig struct {
	// MinFreeBytes is the free space Put keeps on the directory's
	// filesystem for everything else that lives there (Postgres, logs,
	// exports, a local NATS store): a Put that starts below it, or whose
	// content would take the free space below it, fails with
	// ErrInsufficientStorage and leaves nothing behind. 0 keeps no reserve;
	// a full filesystem still fails with ErrInsufficientStorage. The
	// reserve is checked on each Put, so several processes sharing the
	// directory may together go below it by at most one check interval
	// each (see reserveCheckEvery).
	MinFreeBytes int64
}

// NewDirStore creates dir if needed and returns a store over it that keeps
// no free-space reserve.
func NewDirStore(dir string) (*DirStore, error) {
	return NewDirStoreWithConfig(dir, &DirStoreConfig{})
}

// NewDirStoreWithConfig creates dir if needed and returns a store over it
// configured by cfg.
func NewDirStoreWithConfig(dir string, cfg *DirStoreConfig) (*DirStore, error) {
	if cfg.MinFreeBytes < 0 {
		return nil, fmt.Errorf("blob: MinFreeBytes %d is negative", cfg.MinFreeBytes)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("error creating blob directory %s: %w", dir, err)
	}
	return &DirStore{dir: dir, minFree: cfg.MinFreeBytes}, nil
}

func (s *DirStore) path(key string) (string, error) {
	if !validKey(key) {
		return "", ErrNotFound
	}
	return filepath.Join(s.dir, key[0:2], key[2:4], key), nil
}

func validKey(key string) bool {
	if len(key) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Put implements Store.
func (s *DirStore) Put(ctx context.Context, r io.Reader, limit int64) (Info, error) {
	// Below the reserve, refuse before reading or writing a byte.
	if s.minFree > 0 {
		if headroom, ok := s.headroom(); ok && headroom <= 0 {
			return Info{}, ErrInsufficientStorage
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp, err := os.OpenFile(filepath.Join(s.dir, "tmp", hex.EncodeToString(rnd[:])), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return Info{}, storageError("error creating temporary blob", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(&reserveWriter{w: tmp, s: s}, h), ctxReader{ctx, src})
	if err != nil {
		return Info{}, storageError("error writing blob", err)
	}
	if limit > 0 && n > limit {
		return Info{}, ErrTooLarge
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, storageError("error syncing blob", err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, storageError("error closing blob", err)
	}
	info := Info{Key: hex.EncodeToString(h.Sum(nil)), Size: n}
	final, _ := s.path(info.Key)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return Info{}, storageError("error creating blob directory", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Info{}, storageError("error storing blob "+info.Key, err)
	}
	committed = true
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return info, nil
}

// Open implements Store.
func (s *DirStore) Open(_ context.Context, key string) (io.ReadSeekCloser, Info, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, ErrNotFound
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("error opening blob %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, Info{}, fmt.Errorf("error opening blob %s: %w", key, err)
	}
	return f, Info{Key: key, Size: st.Size()}, nil
}

// Stat implements Store.
func (s *DirStore) Stat(_ context.Context, key string) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, fmt.Errorf("error reading blob %s: %w", key, err)
	}
	return Info{Key: key, Size: st.Size()}, nil
}

// Delete implements Store.
func (s *DirStore) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error deleting blob %s: %w", key, err)
	}
	return nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

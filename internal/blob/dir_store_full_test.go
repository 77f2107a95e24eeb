package blob_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestDirStore_FullFilesystem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const fsSize = 2 << 20

	type testBundle struct {
		dir   string
		store *blob.DirStore
		kept  blob.Info
		data  []byte
	}
	setup := func(t *testing.T, minFree int64) *testBundle {
		t.Helper()
		dir := filepath.Join(blobtest.MountTmpfs(t, fsSize), "blobs")
		// 256 KiB accepted before the disk fills, by a store keeping no
		// reserve over the same directory.
		earlier, err := blob.NewDirStore(dir)
		require.NoError(t, err)
		data := bytes.Repeat([]byte("kept"), 64<<10)
		kept, err := earlier.Put(ctx, bytes.NewReader(data), 0)
		require.NoError(t, err)
		s, err := blob.NewDirStoreWithConfig(dir, &blob.DirStoreConfig{MinFreeBytes: minFree})
		require.NoError(t, err)
		t.Cleanup(func() {
			// The blob stored earlier is intact, and nothing is left in tmp.
			r, info, err := s.Open(ctx, kept.Key)
			require.NoError(t, err)
			defer r.Close()
			require.Equal(t, kept, info)
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, data, b)
			entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
			require.NoError(t, err)
			require.Empty(t, entries)
		})
		return &testBundle{dir: dir, store: s, kept: kept, data: data}
	}
	free := func(t *testing.T, dir string) int64 {
		t.Helper()
		var st syscall.Statfs_t
		require.NoError(t, syscall.Statfs(dir, &st))
		return int64(st.Bavail) * st.Bsize
	}

	t.Run("BelowReserveRefusedBeforeReading", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fsSize) // a reserve larger than the filesystem
		src := &countingReader{r: bytes.NewReader([]byte("small"))}
		_, err := b.store.Put(ctx, src, 0)
		require.ErrorIs(t, err, blob.ErrInsufficientStorage)
		require.Zero(t, src.n, "nothing is read below the reserve")
	})

	t.Run("ContentCrossingReserveRefused", func(t *testing.T) {
		t.Parallel()
		const reserve = 1 << 20
		b := setup(t, reserve)
		before := free(t, b.dir)
		require.Greater(t, before, int64(reserve), "the test needs room above the reserve")
		_, err := b.store.Put(ctx, bytes.NewReader(make([]byte, before-reserve+64<<10)), 0)
		require.ErrorIs(t, err, blob.ErrInsufficientStorage)
		require.Equal(t, before, free(t, b.dir), "the refused content's space is given back")

		// Content that fits above the reserve is still stored.
		_, err = b.store.Put(ctx, bytes.NewReader(bytes.Repeat([]byte("y"), 64<<10)), 0)
		require.NoError(t, err)
	})

	t.Run("FullFilesystemWithoutReserve", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		_, err := b.store.Put(ctx, bytes.NewReader(bytes.Repeat([]byte("z"), 3<<20)), 0)
		require.ErrorIs(t, err, blob.ErrInsufficientStorage)
		require.NotContains(t, blob.ErrInsufficientStorage.Error(), b.dir)
	})
}

func TestNewDirStoreWithConfig_NegativeReserve(t *testing.T) {
	t.Parallel()
	_, err := blob.NewDirStoreWithConfig(t.TempDir(), &blob.DirStoreConfig{MinFreeBytes: -1})
	require.ErrorContains(t, err, "MinFreeBytes")
}

package blob

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDirStoreSweep is what only the directory store's sweep does; the
// sweep suite every store passes is blobtest.RunSweepConformance.
func TestDirStoreSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	cutoff := now.Add(-24 * time.Hour)
	old := now.Add(-48 * time.Hour)

	type testBundle struct {
		store *DirStore
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		s, err := NewDirStore(t.TempDir())
		require.NoError(t, err)
		return &testBundle{store: s}
	}
	// put stores content and dates its file at mtime.
	put := func(t *testing.T, b *testBundle, content string, mtime time.Time) string {
		t.Helper()
		info, err := b.store.Put(ctx, bytes.NewReader([]byte(content)), 0)
		require.NoError(t, err)
		p, _ := b.store.path(info.Key)
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return info.Key
	}
	exists := func(t *testing.T, b *testBundle, key string) bool {
		t.Helper()
		_, err := b.store.Stat(ctx, key)
		if err == ErrNotFound {
			return false
		}
		require.NoError(t, err)
		return true
	}
	claims := func(keys ...string) Referenced {
		return func(_ context.Context, candidates []string) (map[string]bool, error) {
			out := map[string]bool{}
			for _, c := range candidates {
				for _, k := range keys {
					if c == k {
						out[c] = true
					}
				}
			}
			return out, nil
		}
	}

	t.Run("TemporaryFiles", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tmp := filepath.Join(b.store.dir, "tmp")
		abandoned := filepath.Join(tmp, "0123456789abcdef")
		inFlight := filepath.Join(tmp, "fedcba9876543210")
		for _, p := range []string{abandoned, inFlight} {
			require.NoError(t, os.WriteFile(p, []byte("partial"), 0o640))
		}
		require.NoError(t, os.Chtimes(abandoned, old, old))
		// A blob a crashed sweep had moved aside is put back and judged
		// again: here it is referenced, so it stays.
		key := put(t, b, "moved aside", old)
		p, _ := b.store.path(key)
		require.NoError(t, os.Rename(p, filepath.Join(tmp, sweepPrefix+key+"-00ff00ff00ff00ff")))

		res, err := b.store.Sweep(ctx, cutoff, claims(key))
		require.NoError(t, err)
		require.Equal(t, 1, res.Temporary)
		require.NoFileExists(t, abandoned)
		require.FileExists(t, inFlight)
		require.True(t, exists(t, b, key))
		entries, err := os.ReadDir(tmp)
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})
}

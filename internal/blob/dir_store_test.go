package blob_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
)

func TestDirStore(t *testing.T) {
	t.Parallel()
	blobtest.RunConformance(t, func(t *testing.T) blob.Store {
		dir := t.TempDir()
		s, err := blob.NewDirStore(dir)
		require.NoError(t, err)
		t.Cleanup(func() {
			// Nothing may be left in tmp after any operation.
			entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
			require.NoError(t, err)
			require.Empty(t, entries)
		})
		return s
	})
}

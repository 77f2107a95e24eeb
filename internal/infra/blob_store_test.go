package infra

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
)

func TestBlobStore(t *testing.T) {
	t.Parallel()
	s, err := BlobStore("dir", t.TempDir(), 0, nil)
	require.NoError(t, err)
	require.IsType(t, &blob.DirStore{}, s)
	s, err = BlobStore("postgres", t.TempDir(), 0, nil)
	require.NoError(t, err)
	require.IsType(t, &blob.PostgresStore{}, s)
	_, err = BlobStore("s3", t.TempDir(), 0, nil)
	require.ErrorContains(t, err, "unknown blob store")
}

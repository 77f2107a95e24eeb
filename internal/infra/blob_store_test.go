package infra

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func TestBlobStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := BlobStore(ctx, &BlobConfig{Kind: "dir", Dir: dir}, nil)
	require.NoError(t, err)
	require.IsType(t, &blob.DirStore{}, s)
	require.DirExists(t, dir)
	s, err = BlobStore(ctx, &BlobConfig{Kind: "postgres"}, nil)
	require.NoError(t, err)
	require.IsType(t, &blob.PostgresStore{}, s)
	_, err = BlobStore(ctx, &BlobConfig{Kind: "gcs"}, nil)
	require.ErrorContains(t, err, "unknown blob store")

	// An s3 store's bucket is looked at before the process goes on.
	db := dbtest.NewSchema(t)
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = BlobStore(short, &BlobConfig{Kind: "s3", S3: blob.S3Location{Endpoint: testutil.FreeAddr(t), Bucket: "gp-blobs"}}, db.Pool)
	require.ErrorContains(t, err, "error reaching S3 bucket gp-blobs")
	srv := blobtest.StartS3(t)
	s, err = BlobStore(ctx, &BlobConfig{Kind: "s3", S3: srv.Location()}, db.Pool)
	require.NoError(t, err)
	require.IsType(t, &blob.S3Store{}, s)
}

package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// TestS3Store is what only the S3 store does, against a real
// S3-compatible server; the suites every store passes run in TestStores.
func TestS3Store(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := blobtest.StartS3(t)
	newFixture := func(t *testing.T) (*blobtest.Fixture, *dbtest.Schema) {
		db := dbtest.NewSchema(t)
		return blobtest.NewS3Fixture(t, srv, db.Pool), db
	}

	t.Run("MultipartRoundTripSharedByTwoProcesses", func(t *testing.T) {
		t.Parallel()
		f, db := newFixture(t)
		// Three parts of 5 MiB, the last short.
		data := make([]byte, 12<<20+1)
		_, _ = rand.Read(data)
		info, err := f.Store.Put(ctx, bytes.NewReader(data), 0)
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), info.Size)

		// Another process's store on the same bucket and prefix.
		other, err := blob.NewS3Store(&blob.S3StoreConfig{S3Location: f.S3, Pool: db.Pool})
		require.NoError(t, err)
		r, got, err := other.Open(ctx, info.Key)
		require.NoError(t, err)
		defer r.Close()
		require.Equal(t, info, got)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, b))
	})

	t.Run("LimitAbortsAMultipartUpload", func(t *testing.T) {
		t.Parallel()
		f, _ := newFixture(t)
		// Past the first part, so an upload of parts is under way when the
		// limit is crossed; the fixture checks that none is left.
		data := bytes.Repeat([]byte("x"), 11<<20)
		_, err := f.Store.Put(ctx, bytes.NewReader(data), 10<<20)
		require.ErrorIs(t, err, blob.ErrTooLarge)
	})

	t.Run("CancelledPutLeavesNothing", func(t *testing.T) {
		t.Parallel()
		f, _ := newFixture(t)
		cctx, cancel := context.WithCancel(ctx)
		src := io.MultiReader(bytes.NewReader(make([]byte, 6<<20)), readerFunc(func([]byte) (int, error) {
			cancel() // the client goes away in the second part
			return 0, cctx.Err()
		}))
		_, err := f.Store.Put(cctx, src, 0)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("SweepRemovesOldTemporaries", func(t *testing.T) {
		t.Parallel()
		f, _ := newFixture(t)
		loc := f.S3
		// A Put that crashed after its upload, and one that crashed during
		// it.
		_, err := srv.Client.PutObject(ctx, loc.Bucket, loc.Prefix+"tmp/abandoned", strings.NewReader("partial"), 7, minio.PutObjectOptions{})
		require.NoError(t, err)
		core := minio.Core{Client: srv.Client}
		_, err = core.NewMultipartUpload(ctx, loc.Bucket, loc.Prefix+"tmp/unfinished", minio.PutObjectOptions{})
		require.NoError(t, err)
		cutoff := f.Cutoff(t)
		// A Put in progress.
		_, err = srv.Client.PutObject(ctx, loc.Bucket, loc.Prefix+"tmp/inflight", strings.NewReader("new"), 3, minio.PutObjectOptions{})
		require.NoError(t, err)

		res, err := f.Store.Sweep(ctx, cutoff, blobtest.Claims())
		require.NoError(t, err)
		require.Equal(t, blob.SweepResult{Temporary: 2}, res)
		var left []string
		for obj := range srv.Client.ListObjects(ctx, loc.Bucket, minio.ListObjectsOptions{Prefix: loc.Prefix, Recursive: true}) {
			require.NoError(t, obj.Err)
			left = append(left, strings.TrimPrefix(obj.Key, loc.Prefix))
		}
		require.Equal(t, []string{"tmp/inflight"}, left)
		require.NoError(t, srv.Client.RemoveObject(ctx, loc.Bucket, loc.Prefix+"tmp/inflight", minio.RemoveObjectOptions{}))
	})

	t.Run("PutWaitsForTheSweepsLastLook", func(t *testing.T) {
		t.Parallel()
		f, db := newFixture(t)
		key := putString(t, f.Store, "stored again")
		cutoff := f.Cutoff(t)
		putDone := make(chan error, 1)
		calls := 0
		res, err := f.Store.Sweep(ctx, cutoff, func(_ context.Context, keys []string) (map[string]bool, error) {
			if calls++; calls == 2 {
				// Between the sweep's last look and its delete, the same
				// content is stored again: the Put waits for the key's lock.
				go func() {
					_, err := f.Store.Put(ctx, strings.NewReader("stored again"), 0)
					putDone <- err
				}()
				testutil.WaitFor(t, 30*time.Second, func() error {
					var waiting int
					if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
						WHERE locktype = 'advisory' AND NOT granted AND objid = hashtext($1)::oid`, key).Scan(&waiting); err != nil {
						return err
					}
					if waiting == 0 {
						return errors.New("the Put does not wait for the key's lock")
					}
					return nil
				})
			}
			return nil, nil
		})
		require.NoError(t, err)
		require.Equal(t, 1, res.Deleted)
		require.NoError(t, <-putDone)
		require.True(t, blobtest.Exists(t, f.Store, key), "the Put after the delete stored the blob again")
	})

	t.Run("Check", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		loc := srv.Location()
		s, err := blob.NewS3Store(&blob.S3StoreConfig{S3Location: loc, Pool: db.Pool})
		require.NoError(t, err)
		require.NoError(t, s.Check(ctx))

		missing := loc
		missing.Bucket = "no-such-bucket"
		s, err = blob.NewS3Store(&blob.S3StoreConfig{S3Location: missing, Pool: db.Pool})
		require.NoError(t, err)
		require.ErrorContains(t, s.Check(ctx), "S3 bucket no-such-bucket does not exist")

		wrongKey := loc
		wrongKey.SecretKey = "not-the-secret"
		s, err = blob.NewS3Store(&blob.S3StoreConfig{S3Location: wrongKey, Pool: db.Pool})
		require.NoError(t, err)
		err = s.Check(ctx)
		require.ErrorContains(t, err, "error reaching S3 bucket")
		require.NotContains(t, err.Error(), "not-the-secret")
	})
}

func TestNewS3StoreRefuses(t *testing.T) {
	t.Parallel()
	db := dbtest.NewSchema(t)
	loc := blob.S3Location{Endpoint: "127.0.0.1:1", Bucket: "b-1", AccessKey: "a", SecretKey: "s"}
	for name, cfg := range map[string]blob.S3StoreConfig{
		"NoPool":        {S3Location: loc},
		"NoBucket":      {S3Location: blob.S3Location{Endpoint: "127.0.0.1:1"}, Pool: db.Pool},
		"OneKey":        {S3Location: blob.S3Location{Endpoint: "127.0.0.1:1", Bucket: "b-1", AccessKey: "a"}, Pool: db.Pool},
		"SmallPartSize": {S3Location: loc, PartSize: 1 << 20, Pool: db.Pool},
	} {
		_, err := blob.NewS3Store(&cfg)
		require.Error(t, err, name)
	}
}

func putString(t *testing.T, s blob.Store, content string) string {
	t.Helper()
	info, err := s.Put(context.Background(), strings.NewReader(content), 0)
	require.NoError(t, err)
	return info.Key
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

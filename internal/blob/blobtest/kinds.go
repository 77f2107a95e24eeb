package blobtest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// SweepStore is a store whose unreferenced blobs can be swept.
type SweepStore interface {
	blob.Store
	blob.Sweeper
}

// Fixture is a new, empty store of one kind, and a way to age its blobs.
// When the test ends it checks that the store holds nothing left over by
// a Put (temporary files, objects or chunks).
type Fixture struct {
	Store SweepStore
	// Cutoff returns a sweep cutoff that every blob stored so far is
	// older than and every blob stored after it returns is not. The dir
	// and postgres kinds backdate what they hold by two days; an S3
	// server dates its objects itself, to the second, so the s3 kind
	// waits for the clock to pass the next whole second instead.
	Cutoff func(t *testing.T) time.Time
	// S3 is the s3 kind's bucket and prefix, for a test to look behind
	// the store's back.
	S3 blob.S3Location
}

// Kind makes fixtures of one kind of store.
type Kind struct {
	Name string
	// UsesPostgres says New needs a migrated schema's pool.
	UsesPostgres bool
	// New returns an empty store of the kind: on pool (a schema of the
	// test's own) when UsesPostgres.
	New func(t *testing.T, pool *pgxpool.Pool) *Fixture
}

// Kinds returns the dir, postgres and s3 kinds. The s3 kind's stores
// share one S3Server, started by the first store made for t (the test
// that owns the subtests) and stopped when t ends, each store under a
// prefix of its own.
func Kinds(t *testing.T) []Kind {
	var (
		once     sync.Once
		srv      *S3Server
		startErr error
	)
	server := func(sub *testing.T) *S3Server {
		once.Do(func() { srv, startErr = startS3(t) })
		RequireS3(sub, startErr)
		return srv
	}
	return []Kind{
		{Name: "dir", New: newDirFixture},
		{Name: "postgres", UsesPostgres: true, New: newPostgresFixture},
		{Name: "s3", UsesPostgres: true, New: func(t *testing.T, pool *pgxpool.Pool) *Fixture {
			return NewS3Fixture(t, server(t), pool)
		}},
	}
}

// backdate is how far the dir and postgres kinds' Cutoff ages the blobs
// stored so far; the cutoff is half of it ago.
const backdate = 48 * time.Hour

func newDirFixture(t *testing.T, _ *pgxpool.Pool) *Fixture {
	dir := t.TempDir()
	s, err := blob.NewDirStore(dir)
	require.NoError(t, err)
	t.Cleanup(func() {
		entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
		require.NoError(t, err)
		require.Empty(t, entries, "nothing is left in tmp")
	})
	return &Fixture{Store: s, Cutoff: func(t *testing.T) time.Time {
		old := time.Now().Add(-backdate)
		require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			return os.Chtimes(path, old, old)
		}))
		return time.Now().Add(-backdate / 2)
	}}
}

func newPostgresFixture(t *testing.T, pool *pgxpool.Pool) *Fixture {
	// Small chunks, so the suites' larger blobs span many.
	s := blob.NewPostgresStore(pool, &blob.PostgresStoreConfig{ChunkSize: 64 << 10})
	t.Cleanup(func() {
		var orphans int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM blob_chunks c
			WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.upload_id = c.upload_id)`).Scan(&orphans))
		require.Zero(t, orphans, "no chunk outlives its blob or its failed Put")
	})
	return &Fixture{Store: s, Cutoff: func(t *testing.T) time.Time {
		_, err := pool.Exec(context.Background(), `UPDATE blobs SET updated_at = updated_at - $1::interval`, backdate)
		require.NoError(t, err)
		return time.Now().Add(-backdate / 2)
	}}
}

// NewS3Fixture returns an S3 store on a prefix of its own on srv, locked
// through pool.
func NewS3Fixture(t *testing.T, srv *S3Server, pool *pgxpool.Pool) *Fixture {
	loc := srv.Location()
	s, err := blob.NewS3Store(&blob.S3StoreConfig{S3Location: loc, Pool: pool})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		for obj := range srv.Client.ListObjects(ctx, loc.Bucket, minio.ListObjectsOptions{Prefix: loc.Prefix + "tmp/", Recursive: true}) {
			require.NoError(t, obj.Err)
			require.Fail(t, "a temporary object is left", obj.Key)
		}
		for up := range srv.Client.ListIncompleteUploads(ctx, loc.Bucket, loc.Prefix, true) {
			require.NoError(t, up.Err)
			require.Fail(t, "an unfinished upload is left", up.Key)
		}
	})
	return &Fixture{Store: s, S3: loc, Cutoff: func(*testing.T) time.Time {
		// Objects stored so far are dated this second or the next at
		// the latest (were the server to round); those stored after the
		// wait, at the cutoff or later.
		cutoff := time.Now().Truncate(time.Second).Add(2 * time.Second)
		time.Sleep(time.Until(cutoff))
		return cutoff
	}}
}

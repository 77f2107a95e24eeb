package blob_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
	"github.com/gamepipe/gamepipe/internal/dbtest"
)

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	blobtest.RunConformance(t, func(t *testing.T) blob.Store {
		db := dbtest.NewSchema(t)
		// Small chunks, so the suite's blobs span many.
		s := blob.NewPostgresStore(db.Pool, &blob.PostgresStoreConfig{ChunkSize: 64 << 10})
		t.Cleanup(func() {
			// Nothing but the stored blobs' chunks may be left after any
			// operation: a failed Put leaves none.
			var orphans int
			require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM blob_chunks c
				WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.upload_id = c.upload_id)`).Scan(&orphans))
			require.Zero(t, orphans)
		})
		return s
	})
}

func TestPostgresStoreSeekAndShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	a := blob.NewPostgresStore(db.Pool, &blob.PostgresStoreConfig{ChunkSize: 10})
	// Another process, with another chunk size.
	b := blob.NewPostgresStore(db.Pool, &blob.PostgresStoreConfig{ChunkSize: 7})

	data := []byte(strings.Repeat("0123456789abcdefghij", 5)) // 100 bytes: 10 chunks
	info, err := a.Put(ctx, bytes.NewReader(data), 0)
	require.NoError(t, err)

	r, got, err := b.Open(ctx, info.Key)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, info, got)
	_, err = r.Seek(25, io.SeekStart)
	require.NoError(t, err)
	buf := make([]byte, 12)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	require.Equal(t, data[25:37], buf)
	_, err = r.Seek(-3, io.SeekEnd)
	require.NoError(t, err)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, data[97:], rest)

	// Concurrent Puts of one content from both stores keep one copy.
	var wg sync.WaitGroup
	for _, s := range []*blob.PostgresStore{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Put(ctx, bytes.NewReader([]byte("same")), 0)
			require.NoError(t, err)
			require.Equal(t, int64(4), got.Size)
		}()
	}
	wg.Wait()
	var blobs, chunks int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM blobs), (SELECT count(*) FROM blob_chunks)`).Scan(&blobs, &chunks))
	require.Equal(t, 2, blobs)
	require.Equal(t, 11, chunks)
}

// TestPostgresStoreSweep runs the directory store's sweep cases against
// the Postgres store.
func TestPostgresStoreSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	cutoff := now.Add(-24 * time.Hour)
	old := now.Add(-48 * time.Hour)

	type testBundle struct {
		db    *dbtest.Schema
		store *blob.PostgresStore
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		return &testBundle{db: db, store: blob.NewPostgresStore(db.Pool, nil)}
	}
	put := func(t *testing.T, b *testBundle, content string, at time.Time) string {
		t.Helper()
		info, err := b.store.Put(ctx, strings.NewReader(content), 0)
		require.NoError(t, err)
		_, err = b.db.Pool.Exec(ctx, `UPDATE blobs SET updated_at = $2 WHERE key = $1`, info.Key, at)
		require.NoError(t, err)
		return info.Key
	}
	exists := func(t *testing.T, b *testBundle, key string) bool {
		t.Helper()
		_, err := b.store.Stat(ctx, key)
		if err == blob.ErrNotFound {
			return false
		}
		require.NoError(t, err)
		return true
	}
	claims := func(keys ...string) blob.Referenced {
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

	t.Run("DeletesOnlyOldUnreferenced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		orphan := put(t, b, "orphan", old)
		used := put(t, b, "used", old)
		fresh := put(t, b, "fresh", now)
		res, err := b.store.Sweep(ctx, cutoff, claims(used))
		require.NoError(t, err)
		require.False(t, exists(t, b, orphan))
		require.True(t, exists(t, b, used))
		require.True(t, exists(t, b, fresh))
		require.Equal(t, blob.SweepResult{Checked: 2, Deleted: 1, Bytes: int64(len("orphan"))}, res)
		var chunks int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM blob_chunks`).Scan(&chunks))
		require.Equal(t, 2, chunks, "the orphan's chunks went with it")

		res, err = b.store.Sweep(ctx, cutoff, claims(used))
		require.NoError(t, err)
		require.Equal(t, blob.SweepResult{Checked: 1}, res, "a second sweep finds nothing more")
	})

	t.Run("ReferencedByTheSecondCheckIsKept", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key := put(t, b, "late record", old)
		calls := 0
		res, err := b.store.Sweep(ctx, cutoff, func(_ context.Context, keys []string) (map[string]bool, error) {
			calls++
			return map[string]bool{key: calls > 1}, nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, calls)
		require.True(t, exists(t, b, key))
		require.Zero(t, res.Deleted)
	})

	t.Run("PutDuringTheSweepIsKept", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key := put(t, b, "uploaded again", old)
		res, err := b.store.Sweep(ctx, cutoff, func(_ context.Context, keys []string) (map[string]bool, error) {
			info, err := b.store.Put(ctx, strings.NewReader("uploaded again"), 0)
			require.NoError(t, err)
			require.Equal(t, key, info.Key)
			return nil, nil
		})
		require.NoError(t, err)
		require.True(t, exists(t, b, key))
		require.Zero(t, res.Deleted)
	})

	t.Run("ReferenceErrorDeletesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key := put(t, b, "x", old)
		_, err := b.store.Sweep(ctx, cutoff, func(context.Context, []string) (map[string]bool, error) {
			return nil, context.DeadlineExceeded
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, exists(t, b, key))
	})
}

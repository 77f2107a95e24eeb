package blob_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
)

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

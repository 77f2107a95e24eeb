// Package blobtest is the conformance suites every blob.Store and
// blob.Sweeper must pass, the kinds of store they run against (Kinds), a
// real S3-compatible server for the s3 kind (StartS3), and MountTmpfs, a
// small real filesystem to fill up. It is imported only from _test.go
// files.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// RunConformance runs the suite against stores made by newStore.
func RunConformance(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()

	t.Run("PutOpenRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := bytes.Repeat([]byte("gamepipe"), 100_000)
		info, err := s.Put(ctx, bytes.NewReader(data), 0)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		require.Equal(t, hex.EncodeToString(sum[:]), info.Key)
		require.Equal(t, int64(len(data)), info.Size)

		r, got, err := s.Open(ctx, info.Key)
		require.NoError(t, err)
		defer r.Close()
		require.Equal(t, info, got)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, data, b)

		st, err := s.Stat(ctx, info.Key)
		require.NoError(t, err)
		require.Equal(t, info, st)
	})

	t.Run("SameContentSameKey", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a, err := s.Put(ctx, strings.NewReader("x"), 0)
		require.NoError(t, err)
		b, err := s.Put(ctx, strings.NewReader("x"), 0)
		require.NoError(t, err)
		require.Equal(t, a, b)
	})

	t.Run("LimitStoresNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := []byte("0123456789")
		_, err := s.Put(ctx, bytes.NewReader(data), 9)
		require.ErrorIs(t, err, blob.ErrTooLarge)
		sum := sha256.Sum256(data)
		_, err = s.Stat(ctx, hex.EncodeToString(sum[:]))
		require.ErrorIs(t, err, blob.ErrNotFound)
		info, err := s.Put(ctx, bytes.NewReader(data), 10)
		require.NoError(t, err)
		require.Equal(t, int64(10), info.Size)
	})

	t.Run("FailedReaderStoresNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		boom := errors.New("boom")
		_, err := s.Put(ctx, io.MultiReader(strings.NewReader("abc"), errReader{boom}), 0)
		require.ErrorIs(t, err, boom)
	})

	t.Run("MissingAndBadKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, k := range []string{strings.Repeat("0", 64), "../../etc/passwd", "", strings.Repeat("G", 64)} {
			_, _, err := s.Open(ctx, k)
			require.ErrorIs(t, err, blob.ErrNotFound, k)
			_, err = s.Stat(ctx, k)
			require.ErrorIs(t, err, blob.ErrNotFound, k)
			require.NoError(t, s.Delete(ctx, k))
		}
	})

	t.Run("Seek", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := bytes.Repeat([]byte("0123456789abcdefghij"), 10_000)
		info, err := s.Put(ctx, bytes.NewReader(data), 0)
		require.NoError(t, err)
		r, _, err := s.Open(ctx, info.Key)
		require.NoError(t, err)
		defer r.Close()
		// Forward past a read, back, and from the end, as a range
		// request's server does.
		buf := make([]byte, 12)
		for _, at := range []int64{150_025, 7, 199_990} {
			pos, err := r.Seek(at, io.SeekStart)
			require.NoError(t, err)
			require.Equal(t, at, pos)
			n, err := io.ReadFull(r, buf[:min(12, len(data)-int(at))])
			require.NoError(t, err)
			require.Equal(t, data[at:at+int64(n)], buf[:n])
		}
		_, err = r.Seek(-3, io.SeekEnd)
		require.NoError(t, err)
		rest, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, data[len(data)-3:], rest)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		info, err := s.Put(ctx, strings.NewReader(""), 0)
		require.NoError(t, err)
		require.Equal(t, blob.Info{Key: hex.EncodeToString(sha256.New().Sum(nil)), Size: 0}, info)
		r, got, err := s.Open(ctx, info.Key)
		require.NoError(t, err)
		defer r.Close()
		require.Equal(t, info, got)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Empty(t, b)
	})

	t.Run("ConcurrentPutsOfOneContent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := bytes.Repeat([]byte("same"), 50_000)
		var wg sync.WaitGroup
		infos := make([]blob.Info, 4)
		errs := make([]error, 4)
		for i := range infos {
			wg.Go(func() { infos[i], errs[i] = s.Put(ctx, bytes.NewReader(data), 0) })
		}
		wg.Wait()
		for i := range infos {
			require.NoError(t, errs[i])
			require.Equal(t, infos[0], infos[i])
		}
		r, _, err := s.Open(ctx, infos[0].Key)
		require.NoError(t, err)
		defer r.Close()
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, data, b)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		info, err := s.Put(ctx, strings.NewReader("bye"), 0)
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, info.Key))
		_, err = s.Stat(ctx, info.Key)
		require.ErrorIs(t, err, blob.ErrNotFound)
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

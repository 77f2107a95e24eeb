// Package blobtest is the conformance suite every blob.Store must pass, and
// MountTmpfs, a small real filesystem to fill up. It is
// imported only from _test.go files.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
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

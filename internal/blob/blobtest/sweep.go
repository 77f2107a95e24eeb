package blobtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// RunSweepConformance runs the sweep suite against fixtures made by
// newFixture: what every Sweeper must do, whatever it stores blobs in.
func RunSweepConformance(t *testing.T, newFixture func(t *testing.T) *Fixture) {
	ctx := context.Background()
	put := func(t *testing.T, s blob.Store, content string) string {
		t.Helper()
		info, err := s.Put(ctx, strings.NewReader(content), 0)
		require.NoError(t, err)
		return info.Key
	}

	t.Run("DeletesOnlyOldUnreferenced", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		orphan := put(t, f.Store, "orphan")
		used := put(t, f.Store, "used")
		cutoff := f.Cutoff(t)
		fresh := put(t, f.Store, "fresh")
		res, err := f.Store.Sweep(ctx, cutoff, Claims(used))
		require.NoError(t, err)
		require.False(t, Exists(t, f.Store, orphan))
		require.True(t, Exists(t, f.Store, used))
		require.True(t, Exists(t, f.Store, fresh))
		require.Equal(t, blob.SweepResult{Checked: 2, Deleted: 1, Bytes: int64(len("orphan"))}, res)

		res, err = f.Store.Sweep(ctx, cutoff, Claims(used))
		require.NoError(t, err)
		require.Equal(t, blob.SweepResult{Checked: 1}, res, "a second sweep finds nothing more")
	})

	t.Run("ReferencedByTheSecondCheckIsKept", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		key := put(t, f.Store, "late record")
		cutoff := f.Cutoff(t)
		calls := 0
		res, err := f.Store.Sweep(ctx, cutoff, func(_ context.Context, keys []string) (map[string]bool, error) {
			calls++
			// A record naming it is written between the two checks.
			return map[string]bool{key: calls > 1}, nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, calls)
		require.True(t, Exists(t, f.Store, key))
		require.Zero(t, res.Deleted)
	})

	t.Run("PutDuringTheSweepIsKept", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		key := put(t, f.Store, "uploaded again")
		cutoff := f.Cutoff(t)
		calls := 0
		res, err := f.Store.Sweep(ctx, cutoff, func(_ context.Context, keys []string) (map[string]bool, error) {
			// The same content is uploaded after the listing, its record
			// not written yet: the blob is new again.
			if calls++; calls == 1 {
				require.Equal(t, key, put(t, f.Store, "uploaded again"))
			}
			return nil, nil
		})
		require.NoError(t, err)
		require.True(t, Exists(t, f.Store, key))
		require.Zero(t, res.Deleted)
	})

	t.Run("ReferenceErrorDeletesNothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		key := put(t, f.Store, "x")
		cutoff := f.Cutoff(t)
		_, err := f.Store.Sweep(ctx, cutoff, func(context.Context, []string) (map[string]bool, error) {
			return nil, context.DeadlineExceeded
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, Exists(t, f.Store, key))
	})

	t.Run("ConcurrentSweeps", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var orphans []string
		for _, c := range []string{"a", "b", "c", "d"} {
			orphans = append(orphans, put(t, f.Store, c))
		}
		cutoff := f.Cutoff(t)
		var wg sync.WaitGroup
		results := make([]blob.SweepResult, 3)
		errs := make([]error, 3)
		for i := range results {
			wg.Go(func() { results[i], errs[i] = f.Store.Sweep(ctx, cutoff, Claims()) })
		}
		wg.Wait()
		// One more sweep finishes what the concurrent ones left (the
		// directory store's sweeps put back what another moved aside).
		last, err := f.Store.Sweep(ctx, cutoff, Claims())
		require.NoError(t, err)
		deleted, size := last.Deleted, last.Bytes
		for i := range results {
			require.NoError(t, errs[i])
			deleted += results[i].Deleted
			size += results[i].Bytes
		}
		require.Equal(t, 4, deleted, "each blob is counted deleted once")
		require.Equal(t, int64(4), size)
		for _, k := range orphans {
			require.False(t, Exists(t, f.Store, k))
		}
	})
}

// Claims is a Referenced that claims keys.
func Claims(keys ...string) blob.Referenced {
	return func(_ context.Context, candidates []string) (map[string]bool, error) {
		out := map[string]bool{}
		for _, c := range candidates {
			if slices.Contains(keys, c) {
				out[c] = true
			}
		}
		return out, nil
	}
}

// Exists reports whether s holds key.
func Exists(t *testing.T, s blob.Store, key string) bool {
	t.Helper()
	_, err := s.Stat(context.Background(), key)
	if errors.Is(err, blob.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

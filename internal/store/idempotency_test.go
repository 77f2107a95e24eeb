package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) (*dbtest.Schema, *store.IdempotencyParams) {
		db := dbtest.NewSchema(t)
		app, err := store.AppCreate(ctx, db.Pool, "a")
		require.NoError(t, err)
		return db, &store.IdempotencyParams{AppID: app.AppID, Route: "POST /v1/x", Key: "k1", RequestHash: []byte{1}}
	}

	t.Run("ConcurrentRetriesRunOnce", func(t *testing.T) {
		t.Parallel()
		db, p := setup(t)
		var runs atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]*store.IdempotentResponse, 20)
		for i := range results {
			wg.Go(func() {
				<-start
				res, err := store.Idempotent(ctx, db.Pool, p, func(tx pgx.Tx) (int, any, error) {
					n := runs.Add(1)
					return 202, map[string]any{"run": n}, nil
				})
				require.NoError(t, err)
				results[i] = res
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), runs.Load())
		replays := 0
		for _, r := range results {
			require.Equal(t, 202, r.Status)
			require.JSONEq(t, `{"run":1}`, string(r.Body))
			if r.Replayed {
				replays++
			}
		}
		require.Equal(t, 19, replays)
	})

	t.Run("FailureIsNotStored", func(t *testing.T) {
		t.Parallel()
		db, p := setup(t)
		boom := errors.New("boom")
		_, err := store.Idempotent(ctx, db.Pool, p, func(pgx.Tx) (int, any, error) { return 0, nil, boom })
		require.ErrorIs(t, err, boom)
		res, err := store.Idempotent(ctx, db.Pool, p, func(pgx.Tx) (int, any, error) { return 202, "ok", nil })
		require.NoError(t, err)
		require.False(t, res.Replayed)
	})

	t.Run("DifferentRequestSameKey", func(t *testing.T) {
		t.Parallel()
		db, p := setup(t)
		_, err := store.Idempotent(ctx, db.Pool, p, func(pgx.Tx) (int, any, error) { return 202, "ok", nil })
		require.NoError(t, err)
		other := *p
		other.RequestHash = []byte{2}
		_, err = store.Idempotent(ctx, db.Pool, &other, func(pgx.Tx) (int, any, error) { return 202, "ok", nil })
		require.ErrorIs(t, err, store.ErrIdempotencyMismatch)
	})
}

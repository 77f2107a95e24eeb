package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestEmoteStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db           *dbtest.Schema
		appA, appB   uuid.UUID
		insertForApp func(t *testing.T, app uuid.UUID, user string) *store.Emote
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		a, err := store.AppCreate(ctx, db.Pool, "a")
		require.NoError(t, err)
		b, err := store.AppCreate(ctx, db.Pool, "b")
		require.NoError(t, err)
		return &testBundle{db: db, appA: a.AppID, appB: b.AppID,
			insertForApp: func(t *testing.T, app uuid.UUID, user string) *store.Emote {
				t.Helper()
				e := &store.Emote{ID: uuid.Must(uuid.NewV7()), AppID: app, UserID: user, Name: "wave",
					StartMS: 0, EndMS: 2000, VideoKey: "abc", VideoSize: 10, VideoFormat: "mp4"}
				require.NoError(t, store.EmoteInsert(ctx, db.Pool, e))
				return e
			}}
	}

	t.Run("GetIsScopedToTheApp", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		e := bundle.insertForApp(t, bundle.appA, "u1")

		got, err := store.EmoteGetForApp(ctx, bundle.db.Pool, bundle.appA, e.ID)
		require.NoError(t, err)
		require.Equal(t, store.JobQueued, got.Status)
		require.Equal(t, 1, got.StatusSeq)
		require.Zero(t, got.NotifiedSeq)
		require.True(t, got.TokenCreatedAt.IsZero())
		require.True(t, got.FinishedAt.IsZero())
		require.Equal(t, uuid.Nil, got.ProcessUUID)
		require.Nil(t, got.Result)
		require.Empty(t, got.PreviousProcessUUIDs)

		_, err = store.EmoteGetForApp(ctx, bundle.db.Pool, bundle.appB, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = store.EmoteGet(ctx, bundle.db.Pool, uuid.New())
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ListPagesWithCursorAndFilters", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		var ids []uuid.UUID
		for i := range 5 {
			user := "u1"
			if i%2 == 1 {
				user = "u2"
			}
			ids = append(ids, bundle.insertForApp(t, bundle.appA, user).ID)
		}
		bundle.insertForApp(t, bundle.appB, "u1")

		var seen []uuid.UUID
		p := &store.EmoteListParams{AppID: bundle.appA, Limit: 2}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5)
			page, next, err := store.EmoteList(ctx, bundle.db.Pool, p)
			require.NoError(t, err)
			for _, e := range page {
				seen = append(seen, e.ID)
			}
			if next == nil {
				break
			}
			p.After = next
		}
		// Newest first: the reverse of insertion (uuid v7 and created_at agree).
		require.Equal(t, []uuid.UUID{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)

		page, next, err := store.EmoteList(ctx, bundle.db.Pool, &store.EmoteListParams{AppID: bundle.appA, UserID: "u2"})
		require.NoError(t, err)
		require.Nil(t, next)
		require.Len(t, page, 2)

		_, err = store.EmoteUpdate(ctx, bundle.db.Pool, ids[0], func(_ pgx.Tx, e *store.Emote) error { e.Status = store.JobFailed; return nil })
		require.NoError(t, err)
		page, _, err = store.EmoteList(ctx, bundle.db.Pool, &store.EmoteListParams{AppID: bundle.appA, Status: store.JobFailed})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, ids[0], page[0].ID)
	})

	t.Run("UpdateRoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		e := bundle.insertForApp(t, bundle.appA, "u1")
		now := time.Now().UTC().Truncate(time.Microsecond)
		pid, prev := uuid.New(), uuid.New()

		updated, err := store.EmoteUpdate(ctx, bundle.db.Pool, e.ID, func(_ pgx.Tx, e *store.Emote) error {
			e.Status = store.JobProcessing
			e.ProcessUUID = pid
			e.PreviousProcessUUIDs = append(e.PreviousProcessUUIDs, prev)
			e.Token, e.TokenCreatedAt, e.TokenStatus = "tok", now, store.TokenUsed
			e.ProcessingStartedAt = now
			e.Result = json.RawMessage(`{"uuid":"x"}`)
			e.JobID = 42
			e.UpstreamStatus = "processing"
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, updated.StatusSeq)

		got, err := store.EmoteGet(ctx, bundle.db.Pool, e.ID)
		require.NoError(t, err)
		require.Equal(t, pid, got.ProcessUUID)
		require.Equal(t, []uuid.UUID{prev}, got.PreviousProcessUUIDs)
		require.Equal(t, "tok", got.Token)
		require.True(t, now.Equal(got.TokenCreatedAt))
		require.True(t, now.Equal(got.ProcessingStartedAt))
		require.JSONEq(t, `{"uuid":"x"}`, string(got.Result))
		require.Equal(t, int64(42), got.JobID)
		require.Equal(t, 2, got.StatusSeq)

		// A function that changes nothing writes nothing.
		same, err := store.EmoteUpdate(ctx, bundle.db.Pool, e.ID, func(pgx.Tx, *store.Emote) error { return nil })
		require.NoError(t, err)
		require.Equal(t, got.UpdatedAt, same.UpdatedAt)

		// An error rolls back.
		boom := errors.New("boom")
		_, err = store.EmoteUpdate(ctx, bundle.db.Pool, e.ID, func(_ pgx.Tx, e *store.Emote) error { e.Status = store.JobFailed; return boom })
		require.ErrorIs(t, err, boom)
		got, err = store.EmoteGet(ctx, bundle.db.Pool, e.ID)
		require.NoError(t, err)
		require.Equal(t, store.JobProcessing, got.Status)

		// ErrUnchanged, as for generations, writes nothing and is no error:
		// the row comes back as read.
		same, err = store.EmoteUpdate(ctx, bundle.db.Pool, e.ID, func(_ pgx.Tx, e *store.Emote) error {
			e.Status = store.JobFailed
			return store.ErrUnchanged
		})
		require.NoError(t, err)
		require.Equal(t, store.JobProcessing, same.Status)
		got, err = store.EmoteGet(ctx, bundle.db.Pool, e.ID)
		require.NoError(t, err)
		require.Equal(t, store.JobProcessing, got.Status)

		require.NoError(t, store.EmoteMarkNotified(ctx, bundle.db.Pool, e.ID, 2))
		require.NoError(t, store.EmoteMarkNotified(ctx, bundle.db.Pool, e.ID, 1))
		got, err = store.EmoteGet(ctx, bundle.db.Pool, e.ID)
		require.NoError(t, err)
		require.Equal(t, 2, got.NotifiedSeq)
	})

	t.Run("UpdateUnderLockTransitionsOnce", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		e := bundle.insertForApp(t, bundle.appA, "u1")

		var (
			start       = make(chan struct{})
			wg          sync.WaitGroup
			transitions atomic.Int32
		)
		for range 20 {
			wg.Go(func() {
				<-start
				_, err := store.EmoteUpdate(ctx, bundle.db.Pool, e.ID, func(_ pgx.Tx, e *store.Emote) error {
					if e.Status != store.JobQueued {
						return nil
					}
					e.Status = store.JobProcessing
					transitions.Add(1)
					return nil
				})
				require.NoError(t, err)
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), transitions.Load())
		got, err := store.EmoteGet(ctx, bundle.db.Pool, e.ID)
		require.NoError(t, err)
		require.Equal(t, 2, got.StatusSeq)
	})

	t.Run("ValidStatuses", func(t *testing.T) {
		t.Parallel()
		require.True(t, store.EmoteAwaitingVideo.ValidFor(store.EmoteStatuses))
		require.False(t, store.EmoteAwaitingVideo.ValidFor(store.GenerationStatuses))
		require.True(t, store.GenerationFinalizing.ValidFor(store.GenerationStatuses))
		require.False(t, store.JobStatus("done").ValidFor(store.EmoteStatuses))
		for _, s := range []store.JobStatus{store.JobSucceeded, store.JobFailed, store.JobCanceled, store.JobTimedOut} {
			require.True(t, s.Terminal(), s)
			require.True(t, s.ValidFor(store.EmoteStatuses), s)
			require.True(t, s.ValidFor(store.GenerationStatuses), s)
		}
		require.False(t, store.EmoteAwaitingValidation.Terminal())
		require.False(t, store.JobProcessing.Terminal())
	})
}

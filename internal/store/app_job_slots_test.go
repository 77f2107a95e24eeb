package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestAppSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db  *dbtest.Schema
		app uuid.UUID
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		app, err := store.AppCreate(ctx, db.Pool, "a")
		require.NoError(t, err)
		return &testBundle{db: db, app: app.AppID}
	}
	// runningJob inserts a River job row running its first attempt, as a
	// worker that fetched it would see it.
	runningJob := func(t *testing.T, b *testBundle) int64 {
		t.Helper()
		var id int64
		require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO river_job
			(args, kind, max_attempts, queue, state, attempt, attempted_at, priority, scheduled_at)
			VALUES ('{}', 'test', 5, 'kinetix', 'running', 1, now(), 1, now()) RETURNING id`).Scan(&id))
		return id
	}
	take := func(t *testing.T, b *testBundle, job int64, limit int) bool {
		t.Helper()
		ok, err := store.AppSlotTake(ctx, b.db.Pool, &store.AppSlotParams{AppID: b.app, Queue: "kinetix", JobID: job, Attempt: 1, Cap: limit})
		require.NoError(t, err)
		return ok
	}

	t.Run("ConcurrentTakersNeverPassTheCap", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		jobs := make([]int64, 20)
		for i := range jobs {
			jobs[i] = runningJob(t, b)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			taken int
		)
		start := make(chan struct{})
		for _, job := range jobs {
			wg.Go(func() {
				<-start
				if take(t, b, job, 3) {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 3, taken)
		held, err := store.AppSlotsHeld(ctx, b.db.Pool, b.app, "kinetix")
		require.NoError(t, err)
		require.Equal(t, 3, held)
	})

	t.Run("ReleasedAndDeadSlotsAreFree", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j1, j2, j3 := runningJob(t, b), runningJob(t, b), runningJob(t, b)
		require.True(t, take(t, b, j1, 2))
		require.True(t, take(t, b, j2, 2))
		require.True(t, take(t, b, j1, 2), "taking again for the same run")
		require.False(t, take(t, b, j3, 2))

		require.NoError(t, store.AppSlotRelease(ctx, b.db.Pool, j1, 1))
		require.True(t, take(t, b, j3, 2), "a released slot")

		// j2's worker died and River rescued the job: its slot is dead.
		_, err := b.db.Pool.Exec(ctx, "UPDATE river_job SET state = 'retryable', scheduled_at = now() + interval '1 hour' WHERE id = $1", j2)
		require.NoError(t, err)
		require.True(t, take(t, b, runningJob(t, b), 2), "a dead slot")
		held, err := store.AppSlotsHeld(ctx, b.db.Pool, b.app, "kinetix")
		require.NoError(t, err)
		require.Equal(t, 2, held)
	})

	t.Run("AFailedTakeLeavesNoTransactionOpen", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg, err := pgxpool.ParseConfig(b.db.URL)
		require.NoError(t, err)
		cfg.MaxConns = 1
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		defer pool.Close()
		job := runningJob(t, b)
		// Not UTF-8: Postgres refuses the lock's key, after BEGIN.
		_, err = store.AppSlotTake(ctx, pool, &store.AppSlotParams{AppID: b.app, Queue: "\xff", JobID: job, Attempt: 1, Cap: 1})
		require.Error(t, err)
		ok, err := store.AppSlotTake(ctx, pool, &store.AppSlotParams{AppID: b.app, Queue: "kinetix", JobID: job, Attempt: 1, Cap: 1})
		require.NoError(t, err)
		require.True(t, ok)
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		require.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus(), "the pool's connection is outside any transaction")
		conn.Release()
		held, err := store.AppSlotsHeld(ctx, pool, b.app, "kinetix")
		require.NoError(t, err)
		require.Equal(t, 1, held)
	})

	t.Run("StorageBytesSumsTheRows", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other, err := store.AppCreate(ctx, b.db.Pool, "b")
		require.NoError(t, err)
		n, err := store.AppStorageBytes(ctx, b.db.Pool, b.app)
		require.NoError(t, err)
		require.Zero(t, n)

		_, err = store.LevelModelInsert(ctx, b.db.Pool, &store.LevelModelInsertParams{AppID: b.app, LevelName: "L1",
			BlobKey: "0000000000000000000000000000000000000000000000000000000000000001", SizeBytes: 100, Format: "glb",
			OriginalFilename: "l.glb", ContentType: "model/gltf-binary"})
		require.NoError(t, err)
		for _, app := range []uuid.UUID{b.app, other.AppID} {
			require.NoError(t, store.EmoteInsert(ctx, b.db.Pool, &store.Emote{ID: uuid.Must(uuid.NewV7()),
				AppID: app, UserID: "u", Name: "wave", EndMS: 2000, VideoKey: "k", VideoSize: 20, VideoFormat: "mp4"}))
		}
		g := &store.Generation{ID: uuid.New(), AppID: b.app, Model: "m", Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}
		require.NoError(t, store.GenerationInsert(ctx, b.db.Pool, g))
		_, err = b.db.Pool.Exec(ctx, `UPDATE generations SET image_key = 'k', image_size = 3 WHERE id = $1`, g.ID)
		require.NoError(t, err)

		n, err = store.AppStorageBytes(ctx, b.db.Pool, b.app)
		require.NoError(t, err)
		require.Equal(t, int64(123), n)
	})
}

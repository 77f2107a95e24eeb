package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestMaintenanceBlobSweepWorkerPostgres is the sweep job against blobs
// kept in Postgres (BLOB_STORE=postgres).
func TestMaintenanceBlobSweepWorkerPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	blobs := blob.NewPostgresStore(db.Pool, nil)

	old := time.Now().Add(-2 * BlobSweepGrace)
	put := func(content string, at time.Time) string {
		info, err := blobs.Put(ctx, strings.NewReader(content), 0)
		require.NoError(t, err)
		_, err = db.Pool.Exec(ctx, `UPDATE blobs SET updated_at = $2 WHERE key = $1`, info.Key, at)
		require.NoError(t, err)
		return info.Key
	}
	model := put("a level", old)
	orphan := put("refused upload", old)
	recent := put("upload in progress", time.Now())
	_, err = store.LevelModelInsert(ctx, db.Pool, &store.LevelModelInsertParams{AppID: app.AppID, LevelName: "L1",
		BlobKey: model, SizeBytes: 7, Format: "glb", OriginalFilename: "l.glb", ContentType: "model/gltf-binary"})
	require.NoError(t, err)

	deps := &Deps{Pool: db.Pool, Blob: blobs, Now: time.Now, Logger: zerolog.Nop()}
	w := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, &MaintenanceBlobSweepWorker{deps: deps})
	for range 2 {
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		res, err := w.Work(ctx, t, tx, MaintenanceBlobSweepArgs{}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.NoError(t, tx.Commit(ctx))
		for key, want := range map[string]bool{model: true, orphan: false, recent: true} {
			_, err := blobs.Stat(ctx, key)
			if want {
				require.NoError(t, err, key)
			} else {
				require.ErrorIs(t, err, blob.ErrNotFound, key)
			}
		}
	}
}

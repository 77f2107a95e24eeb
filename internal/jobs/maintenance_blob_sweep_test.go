package jobs

import (
	"context"
	"os"
	"path/filepath"
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

func TestMaintenanceBlobSweepWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	dir := t.TempDir()
	blobs, err := blob.NewDirStore(dir)
	require.NoError(t, err)

	old := time.Now().Add(-2 * BlobSweepGrace)
	put := func(content string, mtime time.Time) string {
		info, err := blobs.Put(ctx, strings.NewReader(content), 0)
		require.NoError(t, err)
		p := filepath.Join(dir, info.Key[0:2], info.Key[2:4], info.Key)
		require.NoError(t, os.Chtimes(p, mtime, mtime))
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
	for range 2 { // a second run finds nothing more to do
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

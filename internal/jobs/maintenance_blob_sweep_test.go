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
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestMaintenanceBlobSweepWorker runs the sweep job against every kind of
// blob store: files, Postgres (BLOB_STORE=postgres) and an S3-compatible
// server (BLOB_URL=s3://…).
func TestMaintenanceBlobSweepWorker(t *testing.T) {
	t.Parallel()
	for _, kind := range blobtest.Kinds(t) {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.NewSchema(t)
			app, err := store.AppCreate(ctx, db.Pool, "a")
			require.NoError(t, err)
			f := kind.New(t, db.Pool)
			put := func(content string) string {
				info, err := f.Store.Put(ctx, strings.NewReader(content), 0)
				require.NoError(t, err)
				return info.Key
			}
			model := put("a level")
			orphan := put("refused upload")
			cutoff := f.Cutoff(t)
			recent := put("upload in progress")
			_, err = store.LevelModelInsert(ctx, db.Pool, &store.LevelModelInsertParams{AppID: app.AppID, LevelName: "L1",
				BlobKey: model, SizeBytes: 7, Format: "glb", OriginalFilename: "l.glb", ContentType: "model/gltf-binary"})
			require.NoError(t, err)

			// The job sweeps what is older than BlobSweepGrace: the clock
			// reads the cutoff plus the grace.
			now := func() time.Time { return cutoff.Add(BlobSweepGrace) }
			deps := &Deps{Pool: db.Pool, Blob: f.Store, Now: now, Logger: zerolog.Nop()}
			w := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, &MaintenanceBlobSweepWorker{deps: deps})
			for range 2 { // a second run finds nothing more to do
				tx, err := db.Pool.Begin(ctx)
				require.NoError(t, err)
				res, err := w.Work(ctx, t, tx, MaintenanceBlobSweepArgs{}, nil)
				require.NoError(t, err)
				require.Equal(t, river.EventKindJobCompleted, res.EventKind)
				require.NoError(t, tx.Commit(ctx))

				for key, want := range map[string]bool{model: true, orphan: false, recent: true} {
					_, err := f.Store.Stat(ctx, key)
					if want {
						require.NoError(t, err, key)
					} else {
						require.ErrorIs(t, err, blob.ErrNotFound, key)
					}
				}
			}
		})
	}
}

package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/store"
)

// BlobSweepGrace is how old a blob must be before the sweep may delete it
// for want of a row naming it: far longer than any upload takes between
// storing its blob and committing its row.
const BlobSweepGrace = 24 * time.Hour

// MaintenanceBlobSweepArgs deletes blobs no row names any more: an upload
// refused after its file was stored (a form field after the file failing
// validation, a client gone before the commit), a retake's replaced video.
type MaintenanceBlobSweepArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceBlobSweepArgs) Kind() string { return "maintenance_blob_sweep" }

// InsertOpts keeps one such job per period.
func (MaintenanceBlobSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, UniqueOpts: river.UniqueOpts{ByPeriod: 6 * time.Hour}}
}

// MaintenanceBlobSweepWorker runs MaintenanceBlobSweepArgs.
type MaintenanceBlobSweepWorker struct {
	river.WorkerDefaults[MaintenanceBlobSweepArgs]
	deps *Deps
}

// Timeout allows a sweep of a large store.
func (w *MaintenanceBlobSweepWorker) Timeout(*river.Job[MaintenanceBlobSweepArgs]) time.Duration {
	return time.Hour
}

// Work sweeps the blob store, when it can be swept (blob.Sweeper), of
// blobs older than BlobSweepGrace that store.BlobsReferenced does not
// claim. Running it twice, or in two workers at once, deletes nothing more.
func (w *MaintenanceBlobSweepWorker) Work(ctx context.Context, _ *river.Job[MaintenanceBlobSweepArgs]) error {
	sweeper, ok := w.deps.Blob.(blob.Sweeper)
	if !ok {
		return nil
	}
	res, err := sweeper.Sweep(ctx, w.deps.Now().Add(-BlobSweepGrace), func(ctx context.Context, keys []string) (map[string]bool, error) {
		return store.BlobsReferenced(ctx, w.deps.Pool, keys)
	})
	w.deps.Logger.Info().Err(err).Int("checked", res.Checked).Int("deleted", res.Deleted).Int64("bytes", res.Bytes).
		Int("temporary", res.Temporary).Msg("jobs: Swept blobs")
	return err
}

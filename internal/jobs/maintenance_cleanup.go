package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// QueueMaintenance runs gamepipe's own housekeeping jobs.
const QueueMaintenance = "maintenance"

// IdempotencyKeyTTL is how long an Idempotency-Key's first answer is kept.
const IdempotencyKeyTTL = 24 * time.Hour

// MaintenanceCleanupArgs deletes expired idempotency keys.
type MaintenanceCleanupArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceCleanupArgs) Kind() string { return "maintenance_cleanup" }

// InsertOpts keeps one such job at a time.
func (MaintenanceCleanupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// MaintenanceCleanupWorker runs MaintenanceCleanupArgs.
type MaintenanceCleanupWorker struct {
	river.WorkerDefaults[MaintenanceCleanupArgs]
	deps *Deps
}

// Work deletes idempotency keys older than IdempotencyKeyTTL, in bounded
// batches so a big backlog never holds a long lock.
func (w *MaintenanceCleanupWorker) Work(ctx context.Context, _ *river.Job[MaintenanceCleanupArgs]) error {
	cutoff := w.deps.Now().Add(-IdempotencyKeyTTL)
	for {
		tag, err := w.deps.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000)`, cutoff)
		if err != nil {
			return fmt.Errorf("error deleting expired idempotency keys: %w", err)
		}
		if tag.RowsAffected() < 5000 {
			return nil
		}
	}
}

// PeriodicJobs are the jobs River's leader schedules. The blob sweep is
// scheduled only where a blob store is configured (blobs).
func PeriodicJobs(blobs bool) []*river.PeriodicJob {
	jobs := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return MaintenanceCleanupArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
	if blobs {
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(6*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return MaintenanceBlobSweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	return jobs
}

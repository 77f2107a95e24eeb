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

// MaintenanceCleanupArgs deletes expired idempotency keys, job events and
// webhook deliveries.
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

// JobEventTTL is how long a job event stays readable by GET /v1/events
// (Last-Event-ID), and WebhookDeliveryTTL how long a finished delivery and
// its attempts stay listed.
const (
	JobEventTTL        = 7 * 24 * time.Hour
	WebhookDeliveryTTL = 30 * 24 * time.Hour
)

// Work deletes idempotency keys older than IdempotencyKeyTTL, job events
// older than JobEventTTL and finished deliveries older than
// WebhookDeliveryTTL, in bounded batches so a big backlog never holds a
// long lock.
func (w *MaintenanceCleanupWorker) Work(ctx context.Context, _ *river.Job[MaintenanceCleanupArgs]) error {
	now := w.deps.Now()
	for _, c := range []struct {
		what, sql string
		cutoff    time.Time
	}{
		{"expired idempotency keys", `DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000)`, now.Add(-IdempotencyKeyTTL)},
		{"old job events", `DELETE FROM job_events WHERE ctid IN (
			SELECT ctid FROM job_events WHERE created_at < $1 LIMIT 5000)`, now.Add(-JobEventTTL)},
		{"old webhook deliveries", `DELETE FROM webhook_deliveries WHERE ctid IN (
			SELECT ctid FROM webhook_deliveries WHERE updated_at < $1 AND status <> 'pending' LIMIT 5000)`, now.Add(-WebhookDeliveryTTL)},
	} {
		for {
			tag, err := w.deps.Pool.Exec(ctx, c.sql, c.cutoff)
			if err != nil {
				return fmt.Errorf("error deleting %s: %w", c.what, err)
			}
			if tag.RowsAffected() < 5000 {
				break
			}
		}
	}
	return nil
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

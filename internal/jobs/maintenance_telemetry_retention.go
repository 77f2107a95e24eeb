package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/store"
)

// MaintenanceTelemetryRetentionArgs drops telemetry older than the
// configured retention (TELEMETRY_RETENTION): its day partitions, and old
// rows of the DEFAULT partitions.
type MaintenanceTelemetryRetentionArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceTelemetryRetentionArgs) Kind() string { return "maintenance_telemetry_retention" }

// InsertOpts keeps one such job per period.
func (MaintenanceTelemetryRetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// MaintenanceTelemetryRetentionWorker runs MaintenanceTelemetryRetentionArgs.
type MaintenanceTelemetryRetentionWorker struct {
	river.WorkerDefaults[MaintenanceTelemetryRetentionArgs]
	deps *Deps
}

// Timeout allows a first run over a long backlog of days.
func (w *MaintenanceTelemetryRetentionWorker) Timeout(*river.Job[MaintenanceTelemetryRetentionArgs]) time.Duration {
	return time.Hour
}

// Work drops what is older than the retention (store.DropTelemetryBefore).
// Running it twice, or in two workers at once, drops nothing more.
func (w *MaintenanceTelemetryRetentionWorker) Work(ctx context.Context, _ *river.Job[MaintenanceTelemetryRetentionArgs]) error {
	if w.deps.TelemetryRetention <= 0 {
		return nil
	}
	res, err := store.DropTelemetryBefore(ctx, w.deps.Pool, w.deps.Now().Add(-w.deps.TelemetryRetention))
	w.deps.Logger.Info().Err(err).Strs("dropped", res.Dropped).Int64("default_rows", res.DefaultRows).
		Dur("retention", w.deps.TelemetryRetention).Msg("jobs: Applied telemetry retention")
	return err
}

// TelemetryRetentionPeriodicJob schedules the retention job hourly, and
// when the worker starts; the worker adds it when a retention is set.
func TelemetryRetentionPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return MaintenanceTelemetryRetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}

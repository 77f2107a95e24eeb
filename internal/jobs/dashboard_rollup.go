package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/dashboard"
)

// DashboardRollupInterval is how often the worker brings the dashboard's
// daily rollups up to date (docs/dashboard.md, "Rollups").
const DashboardRollupInterval = 15 * time.Minute

// DashboardRollupArgs brings the dashboard's daily rollups up to date.
type DashboardRollupArgs struct{}

// Kind implements river.JobArgs.
func (DashboardRollupArgs) Kind() string { return "dashboard_rollup" }

// InsertOpts keeps one such job per interval.
func (DashboardRollupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, UniqueOpts: river.UniqueOpts{ByPeriod: DashboardRollupInterval}}
}

// DashboardRollupWorker runs DashboardRollupArgs.
type DashboardRollupWorker struct {
	river.WorkerDefaults[DashboardRollupArgs]
	deps *Deps
}

// Work attributes the trajectories' levels and the funnel steps' input
// methods of the app-days whose rows changed, then rebuilds the app-days
// whose raw rows (or levels) changed since they were rolled up; a second
// run with no new rows changes nothing.
func (w *DashboardRollupWorker) Work(ctx context.Context, _ *river.Job[DashboardRollupArgs]) error {
	_, err := dashboard.Rollup(ctx, w.deps.Pool, w.deps.Now())
	return err
}

// Timeout leaves room for a first run over many days of telemetry.
func (w *DashboardRollupWorker) Timeout(*river.Job[DashboardRollupArgs]) time.Duration {
	return 30 * time.Minute
}

// DashboardRollupPeriodicJob schedules DashboardRollupArgs on River's
// leader, once at start and then every DashboardRollupInterval.
func DashboardRollupPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(DashboardRollupInterval),
		func() (river.JobArgs, *river.InsertOpts) { return DashboardRollupArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}

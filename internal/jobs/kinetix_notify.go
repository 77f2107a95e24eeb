package jobs

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// KinetixNotifyArgs publishes an emote's pending status notification. The
// API inserts it with a change no other job will announce (a cancel).
type KinetixNotifyArgs struct {
	EmoteID uuid.UUID `json:"emote_id"`
}

// Kind implements river.JobArgs.
func (KinetixNotifyArgs) Kind() string { return "kinetix_notify" }

// InsertOpts puts the job on the kinetix queue.
func (KinetixNotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueKinetix}
}

// KinetixNotifyWorker runs KinetixNotifyArgs.
type KinetixNotifyWorker struct {
	river.WorkerDefaults[KinetixNotifyArgs]
	k *kinetixRunner
}

// Work publishes the notification, if it has not been already.
func (w *KinetixNotifyWorker) Work(ctx context.Context, job *river.Job[KinetixNotifyArgs]) error {
	_, err := w.k.load(ctx, job.Args.EmoteID)
	return err
}

// Package jobs holds gamepipe's River jobs: one file per kind, named
// <upstream>_<action> (kinetix_emote, generaitiv_generate, ...). Job args
// hold ids only. Every step reads the domain row first and is safe to run
// twice; polling an upstream is a snooze, never a held worker slot.
package jobs

import (
	"cmp"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// Queue names.
const (
	QueueKinetix    = "kinetix"
	QueueGeneraitiv = "generaitiv"
)

// Deps are what the workers need, built by the cmd layer.
type Deps struct {
	Logger   zerolog.Logger
	Pool     *pgxpool.Pool
	Blob     blob.Store
	Notifier *eventstream.Notifier
	// Kinetix configures the emote jobs; nil leaves them unregistered.
	Kinetix *KinetixDeps
	// Generaitiv configures the image jobs; nil leaves them unregistered.
	Generaitiv *GeneraitivDeps
	// Now returns the time; tests may fix it. Defaults to time.Now.
	Now func() time.Time
	// AppShare bounds each app's share of the queues; zero values are
	// the defaults.
	AppShare AppShare
	// Secrets opens the apps' sealed upstream keys; nil when no secrets
	// key is configured (then only the process-wide keys, and app keys
	// stored before sealing, can be used).
	Secrets *auth.SecretBox
	// TelemetryRetention is how long telemetry is kept; 0 keeps it
	// forever and leaves the retention job unregistered.
	TelemetryRetention time.Duration
	// Webhooks configures the webhook deliveries; nil takes the defaults.
	Webhooks *WebhookDeps
}

// appDisabledSnooze is how long a job of a disabled app waits before it
// looks again: disabling is reversible, so its work is kept, not failed.
const appDisabledSnooze = time.Minute

// Register adds every job kind whose dependencies are set to workers.
func Register(workers *river.Workers, deps *Deps) error {
	if deps.Pool == nil {
		return errors.New("jobs: Pool is required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if err := deps.AppShare.validate(); err != nil {
		return err
	}
	river.AddWorker(workers, &MaintenanceCleanupWorker{deps: deps})
	river.AddWorker(workers, &DashboardRollupWorker{deps: deps})
	if deps.Blob != nil {
		river.AddWorker(workers, &MaintenanceBlobSweepWorker{deps: deps})
	}
	if deps.TelemetryRetention > 0 {
		river.AddWorker(workers, &MaintenanceTelemetryRetentionWorker{deps: deps})
	}
	river.AddWorker(workers, newWebhookDeliverWorker(deps))
	if deps.Kinetix != nil {
		if err := registerKinetix(workers, deps); err != nil {
			return err
		}
	}
	if deps.Generaitiv != nil {
		if err := registerGeneraitiv(workers, deps); err != nil {
			return err
		}
	}
	return nil
}

// QueueConfig sizes River's queues.
type QueueConfig struct {
	// KinetixWorkers is the kinetix queue's concurrency. Defaults to 10.
	KinetixWorkers int
	// GeneraitivWorkers is the generaitiv queue's concurrency. Defaults
	// to 10.
	GeneraitivWorkers int
	// WebhookWorkers is the webhooks queue's concurrency. Defaults to 10.
	WebhookWorkers int
}

// Queues returns River's queue configuration.
func (c QueueConfig) Queues() map[string]river.QueueConfig {
	return map[string]river.QueueConfig{
		QueueKinetix:     {MaxWorkers: cmp.Or(c.KinetixWorkers, 10)},
		QueueGeneraitiv:  {MaxWorkers: cmp.Or(c.GeneraitivWorkers, 10)},
		QueueWebhooks:    {MaxWorkers: cmp.Or(c.WebhookWorkers, 10)},
		QueueMaintenance: {MaxWorkers: 1},
	}
}

// MaxWorkers is the total concurrency, for sizing the Postgres pool: River
// needs a connection per running job plus a few for its own maintenance.
func (c QueueConfig) MaxWorkers() int {
	total := 0
	for _, q := range c.Queues() {
		total += q.MaxWorkers
	}
	return total
}

package eventstream

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// NotifyStreamName is the stream of job status notifications that game
// servers subscribe to instead of polling.
const NotifyStreamName = "GAMEPIPE_EVENTS"

// NotifySubject names a notification subject:
// gamepipe.events.<app_id>.<kind>.<status>, kind being emote or generation
// and status one of the job statuses of docs/jobs.md.
func NotifySubject(appID, kind, status string) string {
	return "gamepipe.events." + appID + "." + kind + "." + status
}

// NotifyStreamConfig is the notification stream's configuration.
type NotifyStreamConfig struct {
	// Replicas is the stream's replica count. Defaults to 1. A stream
	// that already has more keeps them (KeepReplicas).
	Replicas int
	// Logger reports a stream kept at more replicas than configured.
	Logger zerolog.Logger
}

// EnsureNotifyStream is EnsureNotifyStreamConfig with the defaults.
func EnsureNotifyStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return EnsureNotifyStreamConfig(ctx, js, &NotifyStreamConfig{})
}

// EnsureNotifyStreamConfig creates or updates the notification stream:
// file storage, a week of history, two-minute dedup window, cfg.Replicas
// copies, never fewer than it already has.
func EnsureNotifyStreamConfig(ctx context.Context, js jetstream.JetStream, cfg *NotifyStreamConfig) (jetstream.Stream, error) {
	replicas, err := streamReplicas(ctx, js, NotifyStreamName, max(cfg.Replicas, 1), cfg.Logger)
	if err != nil {
		return nil, err
	}
	s, err := retryUnanswered(ctx, func() (jetstream.Stream, error) {
		return js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:       NotifyStreamName,
			Subjects:   []string{NotifySubjects},
			Storage:    jetstream.FileStorage,
			Retention:  jetstream.LimitsPolicy,
			Discard:    jetstream.DiscardOld, // notifications, not data: old ones may go
			MaxAge:     7 * 24 * time.Hour,
			Duplicates: 2 * time.Minute,
			Replicas:   replicas,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("error ensuring stream %s: %w", NotifyStreamName, err)
	}
	return s, nil
}

// Notification is the body of a status notification.
type Notification struct {
	// Kind is "emote" or "generation".
	Kind string `json:"kind"`
	// ID is the emote's or generation's id.
	ID string `json:"id"`
	// AppID owns it.
	AppID string `json:"app_id"`
	// Status is the new status (docs/jobs.md), or "progress" for a
	// generation's progress.
	Status string `json:"status"`
	// At is when the status changed.
	At time.Time `json:"at"`
	// Data carries status-specific fields (a result, an error, progress).
	Data any `json:"data,omitempty"`
}

// Notifier publishes status notifications and waits for their acks.
type Notifier struct {
	js jetstream.JetStream
}

// NewNotifier wraps a JetStream context.
func NewNotifier(js jetstream.JetStream) *Notifier { return &Notifier{js: js} }

// Notify publishes n on its subject. The message id is kind.id.status (plus
// dedupKey when a status can repeat, such as progress), so a job step that
// runs twice publishes once within the stream's dedup window.
func (n *Notifier) Notify(ctx context.Context, note *Notification, dedupKey string) error {
	data, err := json.Marshal(note)
	if err != nil {
		return fmt.Errorf("error encoding notification: %w", err)
	}
	id := note.Kind + "." + note.ID + "." + note.Status
	if dedupKey != "" {
		id += "." + dedupKey
	}
	msg := &nats.Msg{
		Subject: NotifySubject(note.AppID, note.Kind, note.Status),
		Data:    data,
		Header:  nats.Header{jetstream.MsgIDHeader: []string{id}},
	}
	if _, err := n.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("%w: error publishing %s notification: %w", ErrUnavailable, note.Status, err)
	}
	return nil
}

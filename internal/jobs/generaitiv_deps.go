package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
)

// GeneraitivDeps configures the image jobs: generaitiv_generate submits,
// generaitiv_follow follows the websocket when there is no public URL for
// webhooks, generaitiv_finalize downloads, stores and publishes, and
// generaitiv_deadline times out a generation that never completes.
type GeneraitivDeps struct {
	// Client calls Generaitiv with the process-wide key; an app with a key
	// of its own gets Client.WithKey. When nil it is built from
	// ClientConfig.
	Client *generaitiv.Client
	// ClientConfig configures the client when Client is nil.
	ClientConfig generaitiv.Config
	// PublicBaseURL, when set, is where Generaitiv reaches the api: each
	// generation is submitted with the callback URL
	// PublicBaseURL/webhooks/generaitiv/{id}?token=…; when empty, the
	// generation is followed over the websocket instead.
	PublicBaseURL string
	// MaxImageBytes caps a downloaded image. Defaults to 20 MiB.
	MaxImageBytes int64
	// RateLimitSnooze is the snooze after a 429 that carried no
	// Retry-After. Defaults to 5s.
	RateLimitSnooze time.Duration
	// PublishRetry is the pause after the token id offered as next was
	// taken by another generation. Defaults to 1s.
	PublishRetry time.Duration
	// Fault, when set, is called at FaultAfterSubmit, FaultFollowProgress
	// and the FaultPublish points so a test can crash the worker there.
	// Nil in production.
	Fault FaultFunc
}

func registerGeneraitiv(workers *river.Workers, deps *Deps) error {
	g := deps.Generaitiv
	if g.Client == nil {
		c, err := generaitiv.New(&g.ClientConfig)
		if err != nil {
			return fmt.Errorf("error building the generaitiv client: %w", err)
		}
		g.Client = c
	}
	if deps.Blob == nil {
		return errors.New("jobs: Blob is required for the generaitiv jobs")
	}
	g.MaxImageBytes = cmp.Or(g.MaxImageBytes, 20<<20)
	g.RateLimitSnooze = cmp.Or(g.RateLimitSnooze, 5*time.Second)
	g.PublishRetry = cmp.Or(g.PublishRetry, time.Second)
	g.PublicBaseURL = strings.TrimRight(g.PublicBaseURL, "/")
	river.AddWorker(workers, &GeneraitivGenerateWorker{deps: deps})
	river.AddWorker(workers, &GeneraitivFollowWorker{deps: deps})
	river.AddWorker(workers, &GeneraitivFinalizeWorker{deps: deps})
	river.AddWorker(workers, &GeneraitivDeadlineWorker{deps: deps})
	return nil
}

// generaitivClient returns the client for an app: its own key if it has
// one, else the process-wide key with the app's bounded share of that
// key's rate (generaitiv.Client.ForTenant). A disabled app's job snoozes:
// it is worked again once the app is enabled.
func (d *Deps) generaitivClient(ctx context.Context, db store.DBTX, appID uuid.UUID) (*generaitiv.Client, error) {
	_, key, err := store.AppUpstreamKeys(ctx, db, d.Secrets, appID)
	if errors.Is(err, store.ErrAppDisabled) {
		return nil, river.JobSnooze(appDisabledSnooze)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("error reading upstream keys of app %s: %w", appID, err)
	}
	if key == "" {
		return d.Generaitiv.Client.ForTenant(appID.String()), nil
	}
	return d.Generaitiv.Client.WithKey(key), nil
}

// generaitivPolicy is the upstream policy (upstreamPolicy) of the image
// jobs.
func (d *Deps) generaitivPolicy() *upstreamPolicy {
	return &upstreamPolicy{logger: d.Logger, now: d.Now, rateLimitSnooze: d.Generaitiv.RateLimitSnooze}
}

// announceGeneration publishes the generation's current status. The
// message id (kind.id.status) makes a repeat within the stream's dedup
// window a no-op, so every job run may announce what it finds.
func (d *Deps) announceGeneration(ctx context.Context, g *store.Generation) error {
	if d.Notifier == nil {
		return nil
	}
	data := map[string]any{}
	switch g.Status {
	case store.GenerationSubmitted:
		data["workload_id"] = g.WorkloadID
	case store.JobProcessing:
		data["progress"] = g.Progress
	case store.JobSucceeded:
		data["image_url"] = d.Generaitiv.PublicBaseURL + "/v1/generations/" + g.ID.String() + "/image"
		if g.TokenID != nil && g.UploadDone {
			data["token_id"], data["collection"] = *g.TokenID, g.TokenCollection
		}
	case store.JobFailed, store.JobTimedOut, store.JobCanceled:
		// The error as the job object and an emote's notification show it.
		data["error"] = map[string]string{"code": g.ErrorCode, "message": g.ErrorMessage}
	}
	err := d.Notifier.Notify(ctx, &eventstream.Notification{
		Kind: "generation", ID: g.ID.String(), AppID: g.AppID.String(), Status: string(g.Status), At: g.UpdatedAt, Data: data,
	}, "")
	if err != nil {
		return fmt.Errorf("error announcing generation %s %s: %w", g.ID, g.Status, err)
	}
	return nil
}

// announceProgress publishes a progress value on the progress subject;
// best effort, since the next value supersedes it.
func (d *Deps) announceProgress(ctx context.Context, g *store.Generation) {
	if d.Notifier == nil {
		return
	}
	err := d.Notifier.Notify(ctx, &eventstream.Notification{
		Kind: "generation", ID: g.ID.String(), AppID: g.AppID.String(), Status: "progress", At: g.UpdatedAt,
		Data: map[string]any{"progress": g.Progress},
	}, strconv.Itoa(int(g.Progress)))
	if err != nil {
		d.Logger.Warn().Err(err).Str("generation_id", g.ID.String()).Msg("jobs.generaitiv: Error announcing progress")
	}
}

// failGeneration marks the generation failed unless it has ended already,
// announces it and cancels the job, naming what it was doing.
func (d *Deps) failGeneration(ctx context.Context, id uuid.UUID, doing, code, message string, cause error) error {
	now := d.Now()
	g, err := store.GenerationUpdate(ctx, d.Pool, id, func(_ pgx.Tx, g *store.Generation) error {
		if g.Status.Terminal() {
			return store.ErrUnchanged
		}
		g.Fail(code, message, now)
		return nil
	})
	if err != nil {
		return err
	}
	if err := d.announceGeneration(ctx, g); err != nil {
		return err
	}
	return river.JobCancel(fmt.Errorf("error %s generation %s: %w", doing, id, cause))
}

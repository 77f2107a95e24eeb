package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KinetixDeps configures the emote jobs (kinetix_emote, kinetix_validate,
// kinetix_retake, kinetix_notify).
type KinetixDeps struct {
	// BaseURL is the Kinetix API. Required.
	BaseURL string
	// APIKey is the x-api-key of apps without a key of their own (set with
	// `gamepipe apps set --kinetix-key-file`). Required.
	APIKey string
	// HTTPClient makes the upstream requests. Defaults to the kinetix
	// client's pooled one.
	HTTPClient *http.Client
	// RequestTimeout bounds one upstream call. Defaults to 30s.
	RequestTimeout time.Duration
	// UploadTimeout bounds the video upload (POST /v1/process). Defaults to
	// 10 minutes; River's JobTimeout must leave room for it.
	UploadTimeout time.Duration
	// PollMin and PollMax bound the snooze between two polls of a process:
	// it starts at PollMin and doubles up to PollMax. Default 1s and 30s.
	PollMin, PollMax time.Duration
	// Deadline is how long a process may take from its creation before the
	// emote is failed and its job cancelled. Defaults to 10 minutes.
	Deadline time.Duration
	// TokenTTL is how long an upstream token is usable. A recorded token
	// older than TokenTTL minus TokenMargin is replaced before a create.
	// Defaults to 5 minutes and 30s.
	TokenTTL, TokenMargin time.Duration
	// RateLimitSnooze is the snooze after a 429 without Retry-After.
	// Defaults to 5s.
	RateLimitSnooze time.Duration
	// KeyFor returns an app's own Kinetix key, "" for none (then APIKey
	// is used); store.ErrAppDisabled for a disabled app. Defaults to
	// store.AppUpstreamKeys on Deps.Pool, opened with Deps.Secrets.
	KeyFor func(ctx context.Context, appID uuid.UUID) (string, error)
	// Fault, when set, is called at FaultAfterCreate and FaultBeforePoll so
	// a test can crash the worker there. Nil in production.
	Fault FaultFunc
}

// kinetixRunner is what the emote workers share.
type kinetixRunner struct {
	deps   *Deps
	cfg    KinetixDeps
	client *kinetix.Client
}

func newKinetixRunner(deps *Deps) (*kinetixRunner, error) {
	if deps.Kinetix == nil {
		return nil, errors.New("jobs: Kinetix is required")
	}
	cfg := *deps.Kinetix
	if cfg.APIKey == "" {
		return nil, errors.New("jobs: Kinetix.APIKey is required")
	}
	if deps.Blob == nil {
		return nil, errors.New("jobs: Blob is required for the emote jobs")
	}
	cfg.PollMin = cmp.Or(cfg.PollMin, time.Second)
	cfg.PollMax = max(cmp.Or(cfg.PollMax, 30*time.Second), cfg.PollMin)
	cfg.Deadline = cmp.Or(cfg.Deadline, 10*time.Minute)
	cfg.TokenTTL = cmp.Or(cfg.TokenTTL, 5*time.Minute)
	cfg.TokenMargin = cmp.Or(cfg.TokenMargin, 30*time.Second)
	cfg.RateLimitSnooze = cmp.Or(cfg.RateLimitSnooze, 5*time.Second)
	if cfg.KeyFor == nil {
		cfg.KeyFor = func(ctx context.Context, appID uuid.UUID) (string, error) {
			key, _, err := store.AppUpstreamKeys(ctx, deps.Pool, deps.Secrets, appID)
			return key, err
		}
	}
	client, err := kinetix.New(&kinetix.Config{BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, HTTPClient: cfg.HTTPClient,
		Timeout: cfg.RequestTimeout, UploadTimeout: cfg.UploadTimeout})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &kinetixRunner{deps: deps, cfg: cfg, client: client}, nil
}

// registerKinetix adds the emote workers.
func registerKinetix(workers *river.Workers, deps *Deps) error {
	k, err := newKinetixRunner(deps)
	if err != nil {
		return err
	}
	river.AddWorker(workers, &KinetixEmoteWorker{k: k})
	river.AddWorker(workers, &KinetixValidateWorker{k: k})
	river.AddWorker(workers, &KinetixRetakeWorker{k: k})
	river.AddWorker(workers, &KinetixNotifyWorker{k: k})
	return nil
}

// clientFor returns the client with the app's key. On the shared key, the
// app's players go upstream in the app's own namespace
// (kinetix.WithUserNamespace with the app id), so apps sharing the key
// cannot reach each other's players. A disabled app's job snoozes: it is
// worked again once the app is enabled.
func (k *kinetixRunner) clientFor(ctx context.Context, appID uuid.UUID) (*kinetix.Client, error) {
	key, err := k.cfg.KeyFor(ctx, appID)
	if errors.Is(err, store.ErrAppDisabled) {
		return nil, river.JobSnooze(appDisabledSnooze)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading the kinetix key of app %s: %w", appID, err)
	}
	if key == "" {
		return k.client.WithUserNamespace(appID.String()), nil
	}
	return k.client.WithAPIKey(key), nil
}

package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// TestEmoteEndToEnd drives emotes through the API and a real River worker
// against the simulator: create, the validation flow, a retake with a new
// video, validate, and a cancel; and checks the notifications.
func TestEmoteEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	env := newEmoteEnv(t, &emoteEnvOpts{sim: &kinetixsim.Config{ProcessDuration: 300 * time.Millisecond, ValidationKeys: []string{"*"}}})
	ns := natstest.Run(t)
	js, err := jetstream.New(ns.Connect(t))
	require.NoError(t, err)
	stream, err := eventstream.EnsureNotifyStream(ctx, js)
	require.NoError(t, err)

	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers, &jobs.Deps{
		Logger: zerolog.Nop(), Pool: env.db.Pool, Blob: env.blobs, Notifier: eventstream.NewNotifier(js),
		Kinetix: &jobs.KinetixDeps{BaseURL: env.simURL, APIKey: emoteKinetixKey, PollMin: 50 * time.Millisecond, PollMax: 200 * time.Millisecond},
	}))
	worker, err := river.NewClient(riverpgxv5.New(env.db.Pool), &river.Config{
		Logger: slog.New(slog.DiscardHandler), Workers: workers, TestOnly: true,
		Queues:        map[string]river.QueueConfig{jobs.QueueKinetix: {MaxWorkers: 4}},
		FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, worker.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = worker.StopAndCancel(sctx)
	})

	// waitFor polls GET /v1/emotes/{id} until its status is want.
	waitFor := func(id, want string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute) // several River snoozes, each waiting for its scheduler
		for {
			a := env.do(t, env.appA, http.MethodGet, "/v1/emotes/"+id, nil, "")
			require.Equal(t, http.StatusOK, a.status)
			if a.body["status"] == want {
				return a.body
			}
			require.True(t, time.Now().Before(deadline), "emote %s is %v, want %s", id, a.body["status"], want)
			time.Sleep(25 * time.Millisecond) // polling the API, bounded by the deadline
		}
	}

	id := env.create(t, env.appA)
	first := waitFor(id, "awaiting_validation")
	require.NotNil(t, first["result"])
	firstDetails := first["details"].(map[string]any)
	require.NotNil(t, firstDetails["process_uuid"])
	require.Equal(t, true, firstDetails["validation_flow"])

	body, ct := emoteForm(t, map[string]string{"end": "00:00:01.500"}, emoteTestVideo)
	a := env.do(t, env.appA, http.MethodPost, "/v1/emotes/"+id+"/retake", body, ct)
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	second := waitFor(id, "awaiting_validation")
	secondDetails := second["details"].(map[string]any)
	require.NotEqual(t, firstDetails["process_uuid"], secondDetails["process_uuid"])
	require.Equal(t, []any{firstDetails["process_uuid"]}, secondDetails["previous_process_uuids"])
	require.Equal(t, "00:00:01.500", second["input"].(map[string]any)["end"])

	require.Equal(t, http.StatusAccepted, env.do(t, env.appA, http.MethodPost, "/v1/emotes/"+id+"/validate", nil, "").status)
	done := waitFor(id, "succeeded")
	require.NotNil(t, done["finished_at"])
	require.Equal(t, float64(1), done["details"].(map[string]any)["retake_count"])
	require.Equal(t, 2, env.sim.ProcessesCreated())

	other := env.create(t, env.appA)
	a = env.do(t, env.appA, http.MethodDelete, "/v1/emotes/"+other, nil, "")
	require.Equal(t, http.StatusOK, a.status)
	waitFor(other, "canceled")

	// The notifications of both emotes.
	want := map[string][]string{
		id: {"queued", "processing", "awaiting_validation", "retaking", "queued", "processing",
			"awaiting_validation", "validating", "succeeded"},
	}
	require.Eventually(t, func() bool {
		got := map[string][]string{}
		info, err := stream.Info(ctx)
		require.NoError(t, err)
		for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
			msg, err := stream.GetMsg(ctx, seq)
			require.NoError(t, err)
			var n eventstream.Notification
			require.NoError(t, json.Unmarshal(msg.Data, &n))
			require.Equal(t, "gamepipe.events."+env.appA.AppID.String()+".emote."+n.Status, msg.Subject)
			got[n.ID] = append(got[n.ID], n.Status)
		}
		last := got[other]
		return len(got[id]) == len(want[id]) && len(last) > 0 && last[len(last)-1] == "canceled"
	}, time.Minute, 50*time.Millisecond)

	e, err := store.EmoteGet(ctx, env.db.Pool, uuid.MustParse(other))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		job, err := worker.JobGet(ctx, e.JobID)
		require.NoError(t, err)
		return job.State == rivertype.JobStateCancelled
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, store.JobCanceled, e.Status)
}

package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/export"
	"github.com/gamepipe/gamepipe/internal/httpapi"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestTelemetryEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("DocumentPythonExampleLandsAsRow", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, nil)
		// What the document's Python example sends: msgpack.packb(event,
		// use_bin_type=True) with datetime.now(timezone.utc).isoformat().
		event := map[string]any{
			"event_name":   "Player_Jump",
			"app_id":       s.app.AppID.String(),
			"build_id":     "Win64_Shipping_1.0.2",
			"player_id":    "player_uuid",
			"session_id":   "session_uuid",
			"level_id":     "Level_1",
			"position":     []float64{10.5, 0.0, -5.2},
			"custom_data":  map[string]any{"weapon": "Sword", "ammo": 10},
			"input_method": "Gamepad",
			"timestamp":    time.Now().UTC().Format("2006-01-02T15:04:05.000000") + "+00:00",
		}
		status, body := s.post(t, pack(t, event))
		require.Equal(t, 200, status, body)
		require.Equal(t, map[string]any{"status": "queued"}, body)

		s.eventuallyCount(t, 1, "SELECT count(*) FROM gameplay_events")
		var (
			name, level, input string
			x, y, z            float64
			custom             []byte
		)
		require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT event_name, level_id, input_method, pos_x, pos_y, pos_z, custom_data
			FROM gameplay_events`).Scan(&name, &level, &input, &x, &y, &z, &custom))
		require.Equal(t, "Player_Jump", name)
		require.Equal(t, "Level_1", level)
		require.Equal(t, "Gamepad", input)
		require.Equal(t, []float64{10.5, 0, -5.2}, []float64{x, y, z})
		var cd map[string]any
		require.NoError(t, json.Unmarshal(custom, &cd))
		require.Equal(t, map[string]any{"weapon": "Sword", "ammo": float64(10)}, cd)
	})

	t.Run("EveryKindLands", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, nil)
		app := s.app.AppID.String()
		batch := []any{
			map[string]any{"event_name": "Create_Player", "app_id": app, "build_id": "b", "player_id": "p1", "region": "EU-West",
				"hardware": map[string]any{"gpu": "RTX 4090", "ram": "32GB"}, "timestamp": "2026-02-12T10:00:00Z"},
			map[string]any{"funnel_step_name": "Tutorial_Start", "app_id": app, "build_id": "b", "player_id": "p1",
				"session_id": "s1", "level_id": "Training_Grounds", "timestamp": "2026-02-12T10:00:00Z"},
			gameplay(app, 1),
			map[string]any{"app_id": app, "build_id": "b", "player_id": "p1", "session_id": "s1", "status": "Gameplay",
				"input_method": "Gamepad", "fps": map[string]any{"mean": 60, "low_5": 55, "low_1": 30},
				"positions":       []float64{10.0, 0.0, 1.0, 10.1, 0.0, 1.1, 10.2, 0.0, 1.2},
				"timestamp_start": "2026-02-12T10:00:00Z", "timestamp_end": "2026-02-12T10:00:05Z"},
		}
		status, body := s.post(t, pack(t, batch))
		require.Equal(t, 200, status, body)
		s.eventuallyCount(t, 1, "SELECT count(*) FROM trajectories")
		require.Equal(t, 1, s.count(t, "SELECT count(*) FROM players WHERE player_id = 'p1' AND region = 'EU-West'"))
		require.Equal(t, 1, s.count(t, "SELECT count(*) FROM funnel_steps WHERE funnel_step_name = 'Tutorial_Start'"))
		require.Equal(t, 1, s.count(t, "SELECT count(*) FROM gameplay_events"))
		require.Equal(t, 1, s.count(t, "SELECT count(*) FROM trajectories WHERE fps_low_1 = 30 AND cardinality(positions) = 9"))
	})

	t.Run("BadItemWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, nil)
		app := s.app.AppID.String()
		batch := []any{gameplay(app, 1), gameplay(app, 2), map[string]any{"event_name": "x", "app_id": app}}
		status, body := s.post(t, pack(t, batch))
		require.Equal(t, 400, status)
		require.Equal(t, float64(2), body["index"])
		// A later good event is the barrier: once it is in, the bad batch
		// would be too if any of it had been published.
		status, _ = s.post(t, pack(t, gameplay(app, 3)))
		require.Equal(t, 200, status)
		s.eventuallyCount(t, 1, "SELECT count(*) FROM gameplay_events")
	})

	t.Run("RetriedBatchWritesEachEventOnce", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, nil)
		batch := make([]any, 20)
		for i := range batch {
			batch[i] = gameplay(s.app.AppID.String(), i)
		}
		body := pack(t, batch)
		for range 3 {
			status, _ := s.post(t, body)
			require.Equal(t, 200, status)
		}
		s.eventuallyCount(t, 20, "SELECT count(*) FROM gameplay_events")
	})

	t.Run("PartialPublishFailureThenRetryIsExactlyOnce", func(t *testing.T) {
		t.Parallel()
		var failed atomic.Bool
		// One message per kind: the second of the batch's two fails.
		s := newStack(t, &stackOpts{fault: func(i int) error {
			if i == 1 && failed.CompareAndSwap(false, true) {
				return errors.New("injected publish failure")
			}
			return nil
		}})
		batch := make([]any, 50)
		for i := range batch {
			batch[i] = gameplay(s.app.AppID.String(), i)
			if i%2 == 1 {
				batch[i] = player(s.app.AppID.String(), i)
			}
		}
		body := pack(t, batch)
		status, _ := s.post(t, body)
		require.Equal(t, 503, status)
		status, _ = s.post(t, body)
		require.Equal(t, 200, status)
		s.eventuallyCount(t, 25, "SELECT count(*) FROM gameplay_events")
		s.eventuallyCount(t, 25, "SELECT count(*) FROM player_events")
	})

	t.Run("SameEventIDInTwoAppsBothLand", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, nil)
		other, err := store.AppCreate(ctx, s.db.Pool, "other")
		require.NoError(t, err)
		const id = "0b9e2c1e-6f8c-4d59-9a8e-6c1f2f7d9a11"
		evA := gameplay(s.app.AppID.String(), 1)
		evA["event_id"] = id
		evB := gameplay(other.AppID.String(), 1)
		evB["event_id"] = id
		evB["timestamp"] = evA["timestamp"]
		status, _ := s.post(t, pack(t, evA))
		require.Equal(t, 200, status)
		s.app = other
		status, _ = s.post(t, pack(t, evB))
		require.Equal(t, 200, status)
		s.eventuallyCount(t, 2, "SELECT count(*) FROM gameplay_events WHERE event_id = $1", id)
	})

	t.Run("JetStreamDownThenRestartedIsOneRow", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, nil)
		body := pack(t, gameplay(s.app.AppID.String(), 1))
		s.nats.Shutdown()
		s.nats.WaitForShutdown()
		status, resp := s.post(t, body)
		require.Equal(t, 503, status)
		require.Equal(t, "unavailable", resp["error"])

		s.nats.Restart()
		require.Eventually(t, func() bool {
			status, _ := s.post(t, body)
			return status == 200
		}, 30*time.Second, 100*time.Millisecond)
		s.eventuallyCount(t, 1, "SELECT count(*) FROM gameplay_events")
	})
}

func TestExportFlushRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// An exporter that only flushes on request (MaxAge an hour).
	var trigger *export.FlushTrigger
	dir := t.TempDir()
	s := newStack(t, &stackOpts{extra: func(t *testing.T, s *stack, nc *nats.Conn) httpapi.Deps {
		trigger = export.NewFlushTrigger(nc, nil)
		return httpapi.Deps{FlushExports: trigger.Exporters}
	}})
	nc, err := nats.Connect(s.natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := eventstream.OpenStream(ctx, js)
	require.NoError(t, err)
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{Durable: eventstream.ConsumerExporter, AckWait: 5 * time.Second})
	require.NoError(t, err)
	const instance = "exporter-on-host-7f3a"
	prod, err := config.ExporterFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	exp, err := export.New(&export.Config{Dir: dir, InstanceID: instance, MaxAge: time.Hour, FetchWait: 100 * time.Millisecond,
		MaxFileBytes: prod.ExportMaxFileBytes, MaxBufferedEvents: prod.ExportMaxBufferedEvents, FetchBatch: prod.ExportFetchBatch,
		AckWait: prod.ExportAckWait, CompleteGrace: prod.ExportCompleteGrace},
		&export.Deps{Logger: zerolog.Nop(), Conn: nc, Consumer: cons, Stream: stream})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- exp.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	batch := make([]any, 25)
	for i := range batch {
		batch[i] = gameplay(s.app.AppID.String(), i)
	}
	body := pack(t, batch)
	status, _ := s.post(t, body)
	require.Equal(t, 200, status)
	// The client lost the answer and sends the request again: the stream
	// drops the retry, so it makes no second row and no second line.
	status, _ = s.post(t, body)
	require.Equal(t, 200, status)

	// Until the exporter has fetched them, a flush may write nothing: ask
	// again until all 25 lines are in files.
	lines := func() int {
		n := 0
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".ndjson.gz") {
				return nil
			}
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			zr, err := gzip.NewReader(f)
			require.NoError(t, err)
			sc := bufio.NewScanner(zr)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				n++
			}
			return nil
		})
		return n
	}
	require.Eventually(t, func() bool {
		req, err := http.NewRequest(http.MethodPost, s.api.URL+"/api/export", nil)
		require.NoError(t, err)
		resp, err := s.api.Client().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
		// The route is public: it says what it triggered and nothing of
		// the exporters' names, paths, counts or apps.
		require.JSONEq(t, `{"status":"triggered","exporters":1}`, string(body))
		for _, secret := range []string{instance, dir, s.app.AppID.String()} {
			require.NotContains(t, string(body), secret)
		}
		return lines() == 25
	}, 60*time.Second, 200*time.Millisecond)

	// A later event is the barrier: once its line is written, a second
	// copy of the batch, stored before it, would be too.
	status, _ = s.post(t, pack(t, gameplay(s.app.AppID.String(), 99)))
	require.Equal(t, 200, status)
	require.Eventually(t, func() bool {
		_, err := trigger.Exporters(ctx)
		return err == nil && lines() >= 26
	}, 60*time.Second, 200*time.Millisecond)
	require.Equal(t, 26, lines(), "one line per event")
	s.eventuallyCount(t, 26, "SELECT count(*) FROM gameplay_events")
}

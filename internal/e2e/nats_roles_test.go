package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/apicmd"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/export"
	"github.com/gamepipe/gamepipe/internal/exportercmd"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
	"github.com/gamepipe/gamepipe/internal/workercmd"
)

// TestRolesOnAClosedNATS runs the real api, worker and exporter against a
// NATS that admits only their users, each allowed only its role's subjects
// (eventstream.Role.Permissions, as make run and docker-compose.yml set
// them), through every NATS path they have: telemetry published, sunk and
// exported; an export flush asked and answered; a generation whose status
// notifications wake the api's event stream. None of them is refused
// anything, and none logs a password. The stream's image_url is absolute
// under PUBLIC_BASE_URL.
func TestRolesOnAClosedNATS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := roletest.Run(t)
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)

	sim := generaitivsim.New(&generaitivsim.Config{GenerationTime: 300 * time.Millisecond,
		WebhookRetryDelay: 100 * time.Millisecond, GenRate: 1000, GenBurst: 1000})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })

	addr := testutil.FreeAddr(t)
	base := "http://" + addr
	dataDir := t.TempDir()
	common := map[string]string{
		"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": dataDir, "LOG_FORMAT": "json",
		"PUBLIC_BASE_URL": base, "WEBHOOK_ALLOW_PRIVATE": "true",
		"GENERAITIV_BASE_URL": simSrv.URL + "/v1/", "GENERAITIV_API_KEY": "k",
	}
	// The exporter starts first and creates TELEMETRY, the worker then
	// GAMEPIPE_EVENTS, and the api updates both to its limits.
	procs := map[eventstream.Role]*roleProcess{}
	start := func(r eventstream.Role, env map[string]string, run func(context.Context, config.Getenv, io.Writer) error) string {
		creds := roletest.Credentials(r)
		env["NATS_USER"], env["NATS_PASSWORD"] = creds.User, creds.Password
		for k, v := range common {
			env[k] = v
		}
		p := &roleProcess{logs: &testutil.SyncBuffer{}, done: make(chan error, 1), password: creds.Password}
		runCtx, cancel := context.WithCancel(ctx)
		go func() { p.done <- run(runCtx, func(k string) string { return env[k] }, p.logs) }()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-p.done:
				require.NoError(t, err, "%s", r)
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop", r)
			}
		})
		procs[r] = p
		return env[map[eventstream.Role]string{eventstream.RoleAPI: "HTTP_ADDR", eventstream.RoleWorker: "WORKER_HTTP_ADDR",
			eventstream.RoleExporter: "EXPORTER_HTTP_ADDR"}[r]]
	}
	testutil.WaitReady(t, start(eventstream.RoleExporter, map[string]string{"EXPORTER_HTTP_ADDR": testutil.FreeAddr(t),
		"EXPORT_MAX_AGE": "1h", "EXPORTER_ID": "e2e"},
		func(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
			return exportercmd.Run(ctx, nil, getenv, io.Discard, stderr)
		}))
	testutil.WaitReady(t, start(eventstream.RoleWorker, map[string]string{"WORKER_HTTP_ADDR": testutil.FreeAddr(t)}, workercmd.Run))
	testutil.WaitReady(t, start(eventstream.RoleAPI, map[string]string{"HTTP_ADDR": addr, "METRICS_ADDR": testutil.FreeAddr(t)}, apicmd.Run))

	t.Run("TelemetryIsSunkAndExported", func(t *testing.T) {
		now := time.Now()
		body := pack(t, gameplay(app.AppID.String(), 1))
		status := postTo(t, base+"/api/events", map[string]string{"x-public-token": app.PublicToken}, body)
		require.Equal(t, http.StatusOK, status)
		testutil.WaitFor(t, 30*time.Second, func() error {
			var n int
			err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM gameplay_events WHERE app_id = $1`, app.AppID).Scan(&n)
			if err != nil || n != 1 {
				return fmt.Errorf("%d rows (%v)", n, err)
			}
			return nil
		})
		// The api asks, the exporter flushes and answers.
		dir := export.DayDir(filepath.Join(dataDir, "exports"), app.AppID.String(), telemetry.KindGameplay, now)
		testutil.WaitFor(t, 60*time.Second, func() error {
			req, err := http.NewRequest(http.MethodPost, base+"/api/export", nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			var got struct{ Exporters int }
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusAccepted || got.Exporters != 1 {
				return fmt.Errorf("POST /api/export: %d, %+v, %v", resp.StatusCode, got, err)
			}
			if m, err := export.ReadManifest(dir); err != nil || m.Lines != 1 {
				return fmt.Errorf("manifest %+v, %v", m, err)
			}
			return nil
		})
	})

	t.Run("NotificationsWakeTheAPI", func(t *testing.T) {
		heard, err := roletest.ConnectAs(t, ns, eventstream.RoleAPI).SubscribeSync(
			eventstream.NotifySubject(app.AppID.String(), "generation", string(store.JobSucceeded)))
		require.NoError(t, err)
		events := followAppEvents(t, base, app.SecretKey)
		status := postTo(t, base+"/v1/generations", map[string]string{"X-Api-Key": app.SecretKey, "Content-Type": "application/json"},
			[]byte(`{"model":"stability-ai-sdxl","input":{"prompt":"a lighthouse at dusk","width":256,"height":128,"num_inference_steps":10}}`))
		require.Equal(t, http.StatusAccepted, status)

		var succeeded map[string]any
		select {
		case succeeded = <-events:
		case <-time.After(2 * time.Minute):
			t.Fatal("no generation.succeeded on GET /v1/events")
		}
		data := succeeded["data"].(map[string]any)
		imageURL := base + "/v1/generations/" + data["id"].(string) + "/image"
		require.Equal(t, imageURL, data["result"].(map[string]any)["image_url"], "absolute under PUBLIC_BASE_URL")

		msg, err := heard.NextMsg(30 * time.Second)
		require.NoError(t, err, "the worker's notification reaches the api's user")
		var note eventstream.Notification
		require.NoError(t, json.Unmarshal(msg.Data, &note))
		require.Equal(t, imageURL, note.Data.(map[string]any)["image_url"])
	})

	for r, p := range procs {
		require.NotContains(t, p.logs.String(), "NATS refused", "%s's user may do all the %s did", r, r)
		require.NotContains(t, p.logs.String(), p.password, "%s logs no password", r)
		require.Contains(t, p.logs.String(), `"auth":"password","nats_user":"`+string(r)+`"`)
	}
}

// roleProcess is one process of TestRolesOnAClosedNATS.
type roleProcess struct {
	logs     *testutil.SyncBuffer
	done     chan error
	password string
}

// postTo posts body with headers and returns the status.
func postTo(t *testing.T, url string, headers map[string]string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if headers["Content-Type"] == "" {
		req.Header.Set("Content-Type", "application/msgpack")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// followAppEvents follows GET /v1/events until its first
// generation.succeeded event, which it sends decoded.
func followAppEvents(t *testing.T, base, secretKey string) <-chan map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", secretKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(chan map[string]any, 1)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok && name == "generation.succeeded" {
				var ev map[string]any
				if json.Unmarshal([]byte(v), &ev) == nil {
					out <- ev
				}
				return
			}
		}
	}()
	return out
}

// TestClosedNATSKeepsTelemetryToTheAPI: with the role users, a client
// without credentials cannot even connect, and the worker's and the
// exporter's users may not publish telemetry: only the api's messages are
// stored.
func TestClosedNATSKeepsTelemetryToTheAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := roletest.Run(t)
	_, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization)

	api := roletest.ConnectAs(t, ns, eventstream.RoleAPI)
	js, err := jetstream.New(api)
	require.NoError(t, err)
	stream, err := eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "telemetry.app.gameplay", []byte("{}"))
	require.NoError(t, err)

	for _, r := range []eventstream.Role{eventstream.RoleWorker, eventstream.RoleExporter} {
		opts, err := eventstream.ConnectOptions(r, roletest.Credentials(r))
		require.NoError(t, err)
		refused := make(chan error, 8)
		nc, err := nats.Connect(ns.ClientURL(), append(opts,
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused <- err }))...)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		// Through JetStream, awaiting the ack, and as a plain publish.
		njs, err := jetstream.New(nc)
		require.NoError(t, err)
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = njs.Publish(pctx, "telemetry.app.gameplay", []byte("{}"))
		cancel()
		require.Error(t, err, "%s gets no PubAck", r)
		require.NoError(t, nc.Publish("telemetry.app.player", []byte("{}")))
		require.NoError(t, nc.Flush())
		select {
		case err := <-refused:
			require.True(t, errors.Is(err, nats.ErrPermissionViolation), "%s: %v", r, err)
			require.Contains(t, err.Error(), `Publish to "telemetry.app.`)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s's publish was not refused", r)
		}
	}
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, info.State.Msgs, "only the api's message is stored")
}

package exportercmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/export"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

const appID = "72ab8f81-ef36-4712-a046-399a62b9afaa"

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// gameplayEvent is a valid gameplay event received at at.
func gameplayEvent(i int, at time.Time) telemetry.Event {
	ev := testutil.Event(telemetry.KindGameplay, appID, at)
	ev.ID = fmt.Sprintf("%08x-0000-4000-8000-000000000001", i)
	return ev
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("Backfill", func(t *testing.T) {
		t.Parallel()

		schema := dbtest.NewSchema(t)
		day := time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)
		events := []telemetry.Event{gameplayEvent(1, day.Add(time.Hour)), gameplayEvent(2, day.Add(23*time.Hour))}
		ctx := context.Background()
		require.NoError(t, pgx.BeginFunc(ctx, schema.Pool, func(tx pgx.Tx) error {
			_, err := store.InsertEvents(ctx, tx, append(events, gameplayEvent(3, day.Add(24*time.Hour))))
			return err
		}))

		dataDir := t.TempDir()
		var stdout, stderr bytes.Buffer
		err := Run(ctx, []string{"backfill", "--app", appID, "--from", "2026-02-12", "--to", "2026-02-12", "--kind", "gameplay"},
			env(map[string]string{"DATABASE_URL": schema.URL, "DATA_DIR": dataDir}), &stdout, &stderr)
		require.NoError(t, err, stderr.String())
		require.Contains(t, stdout.String(), "backfill: wrote 2 lines in 2 files")
		require.Contains(t, stderr.String(), "backfill: done: 24 hours")

		dir := export.DayDir(filepath.Join(dataDir, "exports-backfill"), appID, telemetry.KindGameplay, day)
		m, err := export.ReadManifest(dir)
		require.NoError(t, err)
		require.True(t, m.Complete)
		require.Equal(t, int64(2), m.Lines)
		require.Len(t, m.Files, 2)
	})

	t.Run("BackfillRefusesTheLiveDirectory", func(t *testing.T) {
		t.Parallel()

		dataDir := t.TempDir()
		err := Run(context.Background(), []string{"backfill", "--app", appID, "--from", "2026-02-12", "--to", "2026-02-13",
			"--out", filepath.Join(dataDir, "exports")}, env(map[string]string{"DATA_DIR": dataDir}), io.Discard, io.Discard)
		require.ErrorContains(t, err, "--out must not be the streaming exporter's directory")
	})

	t.Run("BadSetting", func(t *testing.T) {
		t.Parallel()

		err := Run(context.Background(), nil, env(map[string]string{"EXPORT_MAX_AGE": "soon", "EXPORT_FETCH_BATCH": "-1"}), io.Discard, io.Discard)
		require.EqualError(t, err, `invalid configuration: EXPORT_MAX_AGE: must be a positive duration such as 5s, got "soon"; `+
			`EXPORT_FETCH_BATCH: must be a positive integer, got "-1"`)
	})

	t.Run("Help", func(t *testing.T) {
		t.Parallel()

		var stdout bytes.Buffer
		require.NoError(t, Run(context.Background(), []string{"--help"}, env(nil), &stdout, io.Discard))
		require.Equal(t, Usage, stdout.String())
		stdout.Reset()
		require.NoError(t, Run(context.Background(), []string{"backfill", "-h"}, env(nil), &stdout, io.Discard))
		require.Equal(t, Usage, stdout.String())
	})

	t.Run("StreamingExporter", func(t *testing.T) {
		t.Parallel()

		// A closed NATS: the exporter connects as its role's user; the
		// test publishes and asks for flushes as the api's.
		srv := roletest.Run(t)
		nc := roletest.ConnectAs(t, srv, eventstream.RoleAPI)
		creds := roletest.Credentials(eventstream.RoleExporter)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		ctx := context.Background()
		// The API made the stream with its own limits; the exporter must
		// not reset them.
		_, err = eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{Duplicates: 5 * time.Second})
		require.NoError(t, err)

		dataDir := t.TempDir()
		stderr := &testutil.SyncBuffer{}
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- Run(runCtx, nil, env(map[string]string{
				"NATS_URL": srv.ClientURL(), "DATA_DIR": dataDir, "EXPORTER_HTTP_ADDR": "127.0.0.1:0",
				"LOG_FORMAT": "json", "EXPORT_MAX_AGE": "1h", "EXPORT_ACK_WAIT": "10s", "EXPORTER_ID": "cmd-test",
				"NATS_USER": creds.User, "NATS_PASSWORD": creds.Password,
			}), io.Discard, stderr)
		}()

		var addr string
		testutil.WaitFor(t, 10*time.Second, func() error {
			sc := bufio.NewScanner(strings.NewReader(stderr.String()))
			for sc.Scan() {
				var entry struct{ Message, Addr string }
				if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Message == "exportercmd: running" {
					addr = entry.Addr
					return nil
				}
			}
			return fmt.Errorf("not running yet: %s", stderr.String())
		})
		for path, want := range map[string]string{
			"/healthz": `{"status":"ok"}`,
			"/readyz":  `{"status":"ok","checks":{"nats":"ok"}}`,
		} {
			resp, err := http.Get("http://" + addr + path)
			require.NoError(t, err)
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			require.JSONEq(t, want, string(raw), path)
		}

		stream, err := js.Stream(ctx, eventstream.StreamName)
		require.NoError(t, err)
		require.Equal(t, 5*time.Second, stream.CachedInfo().Config.Duplicates)

		now := time.Now().UTC().Truncate(time.Microsecond)
		for i := range 10 {
			ev := gameplayEvent(i, now)
			data, err := telemetry.MarshalStored(&ev)
			require.NoError(t, err)
			_, err = js.Publish(ctx, ev.Subject(), data, jetstream.WithMsgID(ev.ID))
			require.NoError(t, err)
		}
		// Flush requests until the exporter has fetched all ten.
		var flushed int
		testutil.WaitFor(t, 10*time.Second, func() error {
			sum, err := export.RequestFlush(ctx, nc, time.Second)
			if err != nil {
				return err
			}
			if sum.Exporters != 1 || sum.Replies[0].Exporter != "cmd-test" {
				return fmt.Errorf("replies %+v", sum)
			}
			if flushed += sum.Events; flushed != 10 {
				return fmt.Errorf("%d events flushed", flushed)
			}
			return nil
		})
		m, err := export.ReadManifest(export.DayDir(filepath.Join(dataDir, "exports"), appID, telemetry.KindGameplay, now))
		require.NoError(t, err)
		require.Equal(t, int64(10), m.Lines)

		resp, err := http.Get("http://" + addr + "/metrics")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Contains(t, string(body), `gamepipe_export_events_total{kind="gameplay"} 10`)

		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return")
		}
		require.NotContains(t, stderr.String(), "NATS refused", "the exporter's user may do all the exporter did")
		require.NotContains(t, stderr.String(), creds.Password)
	})

	t.Run("UnknownCommand", func(t *testing.T) {
		t.Parallel()

		err := Run(context.Background(), []string{"export"}, env(nil), io.Discard, io.Discard)
		require.EqualError(t, err, `unknown command "export": run with no arguments, or backfill (see --help)`)
	})
}

func TestParseBackfillArgs(t *testing.T) {
	t.Parallel()

	valid := []string{"--app", appID, "--from", "2026-02-12", "--to", "2026-02-12T12:30:00+02:00"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ExtraArgument", append(valid, "now"), `unexpected argument "now"`},
		{"FromBad", []string{"--app", appID, "--from", "yesterday", "--to", "2026-02-12"}, `--from: "yesterday" is neither RFC 3339`},
		{"KindUnknown", append(valid, "--kind", "gameplay,boss"), `unknown kind "boss"`},
		{"MissingApp", valid[2:], "--app is required"},
		{"MissingTo", valid[:4], "--from and --to are required"},
		{"ToBeforeFrom", []string{"--app", appID, "--from", "2026-02-12T10:00:00Z", "--to", "2026-02-12T09:00:00Z"}, "--to must be after --from"},
		{"UnknownFlag", append(valid, "--since", "x"), "flag provided but not defined: -since"},
		{"Valid", append(valid, "--kind", "gameplay,funnel", "--kind", "player"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			a, help, err := parseBackfillArgs(tt.args)
			require.False(t, help)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			require.Equal(t, time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC), a.from)
			require.Equal(t, time.Date(2026, 2, 12, 10, 30, 0, 0, time.UTC), a.to)
			require.Equal(t, []telemetry.Kind{telemetry.KindGameplay, telemetry.KindFunnel, telemetry.KindPlayer}, a.kinds)
		})
	}

	t.Run("DateAsEndIncludesTheDay", func(t *testing.T) {
		t.Parallel()

		a, _, err := parseBackfillArgs([]string{"--app", appID, "--from", "2026-02-12", "--to", "2026-02-12"})
		require.NoError(t, err)
		require.Equal(t, 24*time.Hour, a.to.Sub(a.from))
	})
}

package export

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

func TestBackfill(t *testing.T) {
	t.Parallel()

	day := time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)

	type testBundle struct {
		schema *dbtest.Schema
		out    string
		// events are appA's events received on day.
		events []telemetry.Event
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		bundle := &testBundle{schema: dbtest.NewSchema(t), out: t.TempDir()}
		for h := range 24 {
			for i := range 4 + h%3 {
				kind := telemetry.Kinds[(h+i)%len(telemetry.Kinds)]
				ev := testEvent(appA, kind, day.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Minute))
				if i == 0 {
					// The client's clock is a day off: received_at decides.
					ev.Timestamp, ev.TimestampStart, ev.TimestampEnd = shiftDay(ev.Timestamp), shiftDay(ev.TimestampStart), shiftDay(ev.TimestampEnd)
				}
				bundle.events = append(bundle.events, ev)
			}
		}
		others := []telemetry.Event{
			testEvent(appB, telemetry.KindGameplay, day.Add(5*time.Hour)),            // another app
			testEvent(appA, telemetry.KindGameplay, day.Add(-time.Microsecond)),      // the day before
			testEvent(appA, telemetry.KindFunnel, day.Add(24*time.Hour)),             // the day after
			testEvent(appA, telemetry.KindRealtime, day.Add(24*time.Hour+time.Hour)), // the day after
		}
		insertEvents(t, bundle.schema, append(slices.Clone(bundle.events), others...))
		// The dashboard's job attributes a level to the trajectories sent
		// without one; the events exported stay as sent.
		_, err := bundle.schema.Pool.Exec(context.Background(),
			`UPDATE trajectories SET level_id = 'Attributed', level_attributed = true WHERE level_id IS NULL`)
		require.NoError(t, err)
		return bundle
	}
	params := func(bundle *testBundle) *BackfillParams {
		return &BackfillParams{AppID: appA, From: day, To: day.Add(24 * time.Hour), OutDir: bundle.out, PageSize: 5}
	}

	t.Run("DayEqualsTheDaysLines", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		var progress bytes.Buffer
		p := params(bundle)
		p.Progress = &progress
		res, err := Backfill(context.Background(), bundle.schema.Pool, p)
		require.NoError(t, err)
		require.Equal(t, 24*len(telemetry.Kinds), res.Hours)
		require.Equal(t, int64(len(bundle.events)), res.Lines)

		got, err := readExport(bundle.out)
		require.NoError(t, err)
		require.Empty(t, got.temps)
		requireSameLines(t, linesByHour(t, bundle.events), got)
		for _, kind := range telemetry.Kinds {
			dir := DayDir(bundle.out, appA, kind, day)
			requireManifest(t, dir)
			m, err := ReadManifest(dir)
			require.NoError(t, err)
			require.True(t, m.Complete, "the range covers the whole day")
		}
		require.Contains(t, progress.String(), "backfill: gameplay 2026-02-12T05Z:")
		require.Contains(t, progress.String(), "backfill: done: 96 hours")
		require.NotContains(t, progress.String(), "\r", "no bar when not on a terminal")
	})

	t.Run("EqualsTheStreamedLines", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		_, err := Backfill(context.Background(), bundle.schema.Pool, params(bundle))
		require.NoError(t, err)
		backfilled, err := readExport(bundle.out)
		require.NoError(t, err)

		// The same events through the stream and the exporter.
		stream := newStream(t, 10*time.Second)
		stream.publish(t, bundle.events...)
		streamDir := t.TempDir()
		eb := stream.start(t, &Config{Dir: streamDir, MaxAge: time.Hour})
		eb.waitBuffered(t, len(bundle.events))
		require.NoError(t, eb.stop(t))
		streamed, err := readExport(streamDir)
		require.NoError(t, err)

		require.Equal(t, exportedLines(t, streamed), exportedLines(t, backfilled))
	})

	t.Run("PartialRangeLeavesTheDayIncomplete", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		p := params(bundle)
		p.From, p.To = day.Add(3*time.Hour+time.Minute), day.Add(5*time.Hour) // widened to 03:00-05:00
		p.Kinds = []telemetry.Kind{telemetry.KindGameplay, telemetry.KindFunnel}
		res, err := Backfill(context.Background(), bundle.schema.Pool, p)
		require.NoError(t, err)
		require.Equal(t, 4, res.Hours)

		var want []telemetry.Event
		for _, ev := range bundle.events {
			if h := ev.ReceivedAt.Hour(); (h == 3 || h == 4) && slices.Contains(p.Kinds, ev.Kind) {
				want = append(want, ev)
			}
		}
		got, err := readExport(bundle.out)
		require.NoError(t, err)
		requireSameLines(t, linesByHour(t, want), got)
		m, err := ReadManifest(DayDir(bundle.out, appA, telemetry.KindGameplay, day))
		require.NoError(t, err)
		require.False(t, m.Complete)
	})

	t.Run("ResumesAfterInterrupt", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		p := params(bundle)
		p.PageSize = 1
		p.onPage = func(kind telemetry.Kind, hour time.Time, page int) {
			// Mid-hour: the file of 05:00 has one line of several.
			if kind == telemetry.KindGameplay && hour.Hour() == 5 && page == 0 {
				cancel()
			}
		}
		_, err := Backfill(ctx, bundle.schema.Pool, p)
		require.ErrorIs(t, err, context.Canceled)

		got, err := readExport(bundle.out)
		require.NoError(t, err)
		require.Empty(t, got.temps, "an interrupted hour leaves nothing behind")
		require.NoFileExists(t, filepath.Join(DayDir(bundle.out, appA, telemetry.KindGameplay, day), fileName(5, 0)))

		var progress bytes.Buffer
		p = params(bundle)
		p.Progress = &progress
		res, err := Backfill(context.Background(), bundle.schema.Pool, p)
		require.NoError(t, err)
		require.Equal(t, 24*2+5, res.Skipped, "player and funnel, then gameplay's first five hours")
		require.Equal(t, 24*len(telemetry.Kinds)-res.Skipped, res.Hours)
		require.Contains(t, progress.String(), "resuming: 53 hours already done")

		got, err = readExport(bundle.out)
		require.NoError(t, err)
		requireSameLines(t, linesByHour(t, bundle.events), got)
		for _, kind := range telemetry.Kinds {
			requireManifest(t, DayDir(bundle.out, appA, kind, day))
		}
	})

	t.Run("Validations", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name    string
			mutate  func(p *BackfillParams)
			wantErr string
		}{
			{"AppNotUUID", func(p *BackfillParams) { p.AppID = "../etc" }, "is not a UUID"},
			{"EmptyRange", func(p *BackfillParams) { p.To = p.From }, "the range is empty"},
			{"NoOutDir", func(p *BackfillParams) { p.OutDir = "" }, "no output directory"},
			{"UnknownKind", func(p *BackfillParams) { p.Kinds = []telemetry.Kind{"nope"} }, `unknown kind "nope"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				p := &BackfillParams{AppID: appA, From: day, To: day.Add(time.Hour), OutDir: t.TempDir()}
				tt.mutate(p)
				_, err := Backfill(context.Background(), nil, p)
				require.ErrorContains(t, err, tt.wantErr)
			})
		}
	})
}

func TestProgress(t *testing.T) {
	t.Parallel()

	t.Run("BarOnATerminal", func(t *testing.T) {
		t.Parallel()

		var out bytes.Buffer
		p := newProgress(&out, 3)
		p.bar = true
		p.skip()
		p.hourDone(telemetry.KindPlayer, time.Now(), 10)
		p.hourDone(telemetry.KindPlayer, time.Now(), 5)
		p.finish()
		require.Contains(t, out.String(), "\r[##############################] 100%  3/3 hours  15 lines")
		require.True(t, strings.HasSuffix(out.String(), "\n"))
	})

	t.Run("NilWriterIsQuiet", func(t *testing.T) {
		t.Parallel()

		p := newProgress(nil, 1)
		p.hourDone(telemetry.KindPlayer, time.Now(), 1)
		p.stop()
		p.finish()
	})

	t.Run("NotAFileIsNotATerminal", func(t *testing.T) {
		t.Parallel()

		require.False(t, isTerminal(&bytes.Buffer{}))
		f, err := os.CreateTemp(t.TempDir(), "progress")
		require.NoError(t, err)
		defer f.Close()
		require.False(t, isTerminal(f))
	})
}

// shiftDay moves a set time one day back.
func shiftDay(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.AddDate(0, 0, -1)
}

// insertEvents stores events as the sink does.
func insertEvents(t *testing.T, schema *dbtest.Schema, events []telemetry.Event) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, schema.Pool, func(tx pgx.Tx) error {
		_, err := store.InsertEvents(ctx, tx, events)
		return err
	}))
}

// linesByHour is the expected lines of events by hour directory prefix
// (<app>/<kind>/<day>/<hh>-), sorted.
func linesByHour(t *testing.T, events []telemetry.Event) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, ev := range events {
		out[wantPath(&ev)] = append(out[wantPath(&ev)], line(t, ev))
	}
	for _, ls := range out {
		slices.Sort(ls)
	}
	return out
}

// exportedLines is what readExport found, as linesByHour.
func exportedLines(t *testing.T, x *exported) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for path, evs := range x.files {
		hour := path[:len(path)-len("000000"+FileSuffix)]
		for _, ev := range evs {
			out[hour] = append(out[hour], line(t, ev))
		}
	}
	for _, ls := range out {
		slices.Sort(ls)
	}
	return out
}

// requireSameLines checks that x holds exactly the wanted lines per hour.
func requireSameLines(t *testing.T, want map[string][]string, x *exported) {
	t.Helper()
	require.Equal(t, want, exportedLines(t, x))
}

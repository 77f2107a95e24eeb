package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func TestConfig_Validate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		mutate  func(cfg *Config)
		wantErr string
	}{
		{"AckWaitTiny", func(cfg *Config) { cfg.AckWait = time.Millisecond }, "AckWait must be at least 30ms"},
		{"DirMissing", func(cfg *Config) { cfg.Dir = "" }, "Dir is required"},
		{"MaxAgeNegative", func(cfg *Config) { cfg.MaxAge = -time.Second }, "durations must not be negative"},
		{"MaxFileBytesNegative", func(cfg *Config) { cfg.MaxFileBytes = -1 }, "must not be negative"},
		{"MaxAgeMissing", func(cfg *Config) { cfg.MaxAge = 0 }, "MaxAge"},
		{"AckWaitMissing", func(cfg *Config) { cfg.AckWait = 0 }, "AckWait"},
		{"FetchBatchMissing", func(cfg *Config) { cfg.FetchBatch = 0 }, "FetchBatch"},
		{"Valid", func(cfg *Config) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg := *testConfig(t, &Config{Dir: t.TempDir()})
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			_, err = New(&cfg, &Deps{Logger: zerolog.Nop()})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestExporter(t *testing.T) {
	t.Parallel()

	// Two days ago, so the days can be completed; and the current hour.
	past := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	hours := []time.Time{past.Add(10 * time.Hour), past.Add(11 * time.Hour), past.Add(23 * time.Hour)}

	type testBundle struct {
		*streamBundle
		dir string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{streamBundle: newStream(t, 10*time.Second), dir: t.TempDir()}
	}
	// requireExactly checks that dir holds exactly events, each once, in the
	// file its app, kind and hour name, and nothing temporary.
	requireExactly := func(t *testing.T, dir string, events []telemetry.Event) *exported {
		t.Helper()
		got, err := readExport(dir)
		require.NoError(t, err)
		require.Empty(t, got.temps)
		byID, lines := got.byID()
		require.Equal(t, len(events), lines, "one line per event")
		require.Len(t, byID, len(events))
		for path, evs := range got.files {
			for _, ev := range evs {
				require.True(t, strings.HasPrefix(path, wantPath(&ev)), "%s in %s", ev.ID, path)
			}
		}
		for _, ev := range events {
			g, ok := byID[ev.ID]
			require.True(t, ok, "event %s missing", ev.ID)
			require.Equal(t, line(t, ev), line(t, g))
		}
		return got
	}

	t.Run("CompletesPastDays", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		today := time.Now().UTC()
		events := []telemetry.Event{
			testEvent(appA, telemetry.KindGameplay, hours[0]),
			testEvent(appA, telemetry.KindGameplay, today),
		}
		bundle.publish(t, events...)
		eb := bundle.start(t, &Config{Dir: bundle.dir, MaxAge: 20 * time.Millisecond, CompleteInterval: 20 * time.Millisecond})

		pastDir := DayDir(bundle.dir, appA, telemetry.KindGameplay, past)
		testutil.WaitFor(t, 10*time.Second, func() error {
			m, err := ReadManifest(pastDir)
			if err != nil {
				return err
			}
			if !m.Complete || m.Lines != 1 {
				return fmt.Errorf("manifest %+v", m)
			}
			return nil
		})
		require.NoError(t, eb.stop(t))
		m, err := ReadManifest(DayDir(bundle.dir, appA, telemetry.KindGameplay, today))
		require.NoError(t, err)
		require.False(t, m.Complete, "today cannot be complete")
		require.Equal(t, int64(1), m.Lines)
	})

	t.Run("FlushesOnAge", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		events := mixedEvents(40, hours)
		bundle.publish(t, events...)
		eb := bundle.start(t, &Config{Dir: bundle.dir, MaxAge: 50 * time.Millisecond})

		testutil.WaitFor(t, 10*time.Second, func() error {
			got, err := readExport(bundle.dir)
			if err != nil {
				return err
			}
			if _, lines := got.byID(); lines != len(events) {
				return fmt.Errorf("%d lines", lines)
			}
			return nil
		})
		require.NoError(t, eb.stop(t))
		requireExactly(t, bundle.dir, events)
	})

	t.Run("LateDuplicateIsASecondLine", func(t *testing.T) {
		t.Parallel()

		// docs/reliability.md #4: a retry that arrives after the
		// stream's duplicate window is a new message with its own
		// received_at. The exporter writes it as a second line with the
		// same id, in the file of its own hour; readers dedup by id.
		bundle := setup(t)
		first := testEvent(appA, telemetry.KindFunnel, hours[0])
		late := first
		late.ReceivedAt = hours[1].Add(time.Minute)
		data, err := telemetry.MarshalStored(&late)
		require.NoError(t, err)
		bundle.publish(t, first)
		_, err = bundle.js.Publish(context.Background(), late.Subject(), data) // no Nats-Msg-Id: outside the window
		require.NoError(t, err)
		eb := bundle.start(t, &Config{Dir: bundle.dir})
		eb.waitBuffered(t, 2)
		require.NoError(t, eb.stop(t))

		got, err := readExport(bundle.dir)
		require.NoError(t, err)
		byID, lines := got.byID()
		require.Equal(t, 2, lines)
		require.Len(t, byID, 1)
		require.Len(t, got.files, 2, "one file per hour")
	})

	t.Run("PoisonIsTerminated", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		events := mixedEvents(20, hours)
		bundle.publish(t, events[:10]...)
		_, err := bundle.js.Publish(context.Background(), "telemetry."+appA+".gameplay", []byte("\xc1not msgpack"))
		require.NoError(t, err)
		bundle.publish(t, events[10:]...)
		eb := bundle.start(t, &Config{Dir: bundle.dir})
		eb.waitBuffered(t, len(events))
		require.NoError(t, eb.stop(t))

		requireExactly(t, bundle.dir, events)
		require.Equal(t, 1.0, value(t, eb.exp.metrics.poison))
		info, err := bundle.consumer.Info(context.Background())
		require.NoError(t, err)
		require.Equal(t, uint64(len(events)+1), info.AckFloor.Stream, "the poison message is terminated, not pending")
		require.Zero(t, info.NumAckPending)
	})

	t.Run("RemovesStaleTempsAtStart", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		dir := DayDir(bundle.dir, appA, telemetry.KindPlayer, time.Now())
		require.NoError(t, os.MkdirAll(dir, 0o755))
		stale := filepath.Join(dir, "03-000000.ndjson.gz.tmp-0a0b0c")
		fresh := filepath.Join(dir, "03-000001.ndjson.gz.tmp-0d0e0f")
		for _, p := range []string{stale, fresh} {
			require.NoError(t, os.WriteFile(p, []byte("half a gzip"), 0o644))
		}
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(stale, old, old))

		eb := bundle.start(t, &Config{Dir: bundle.dir})
		eb.waitBuffered(t, 0) // Run has started
		require.NoError(t, eb.stop(t))
		require.NoFileExists(t, stale)
		require.FileExists(t, fresh, "a young temp may be another exporter's flush in progress")
	})

	t.Run("RotatesBySize", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		events := make([]telemetry.Event, 60)
		for i := range events {
			events[i] = testEvent(appB, telemetry.KindRealtime, hours[0].Add(time.Duration(i)*time.Second))
		}
		bundle.publish(t, events...)
		eb := bundle.start(t, &Config{Dir: bundle.dir, MaxFileBytes: 4000})
		testutil.WaitFor(t, 10*time.Second, func() error {
			if got := value(t, eb.exp.metrics.events.WithLabelValues("realtime")); got < 50 {
				return fmt.Errorf("%v events written", got)
			}
			return nil
		})
		require.NoError(t, eb.stop(t))

		got := requireExactly(t, bundle.dir, events)
		require.Greater(t, len(got.files), 3)
		dir := DayDir(bundle.dir, appB, telemetry.KindRealtime, past)
		for i := range len(got.files) {
			require.FileExists(t, filepath.Join(dir, fileName(10, i)), "sequence numbers follow each other")
		}
		requireManifest(t, dir)
	})

	t.Run("ShutdownWritesEverything", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		events := mixedEvents(300, hours)
		bundle.publish(t, events...)
		eb := bundle.start(t, &Config{Dir: bundle.dir, MaxAge: time.Hour})
		eb.waitBuffered(t, len(events))
		got, err := readExport(bundle.dir)
		require.NoError(t, err)
		require.Empty(t, got.files, "nothing is written before a flush")

		require.NoError(t, eb.stop(t))
		requireExactly(t, bundle.dir, events)
		for _, app := range []string{appA, appB} {
			for _, kind := range telemetry.Kinds {
				for _, day := range []time.Time{past} {
					requireManifest(t, DayDir(bundle.dir, app, kind, day))
				}
			}
		}
		info, err := bundle.consumer.Info(context.Background())
		require.NoError(t, err)
		require.Equal(t, uint64(len(events)), info.AckFloor.Stream)
		require.Zero(t, info.NumAckPending)
	})

	t.Run("FilesAppearWhole", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		events := mixedEvents(400, hours)
		bundle.publish(t, events...)

		// A reader polls while small flushes follow each other: every
		// final name it sees must hold a whole gzip NDJSON file.
		stop := make(chan struct{})
		var seen atomic.Int64
		readerErr := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					readerErr <- nil
					return
				default:
				}
				got, err := readExport(bundle.dir)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					readerErr <- err
					return
				}
				if got != nil {
					seen.Store(int64(len(got.files)))
				}
			}
		}()
		eb := bundle.start(t, &Config{Dir: bundle.dir, MaxBufferedEvents: 25, MaxAge: 100 * time.Millisecond})
		testutil.WaitFor(t, time.Minute, func() error {
			if got := value(t, eb.exp.metrics.events.WithLabelValues("player")) +
				value(t, eb.exp.metrics.events.WithLabelValues("funnel")) +
				value(t, eb.exp.metrics.events.WithLabelValues("gameplay")) +
				value(t, eb.exp.metrics.events.WithLabelValues("realtime")); int(got) != len(events) {
				return fmt.Errorf("%v events written", got)
			}
			return nil
		})
		close(stop)
		require.NoError(t, <-readerErr)
		require.Positive(t, seen.Load())
		require.NoError(t, eb.stop(t))
		requireExactly(t, bundle.dir, events)
	})

	t.Run("ResumesAfterCrash", func(t *testing.T) {
		t.Parallel()

		for _, point := range []FaultPoint{FaultAfterWrite, FaultAfterLink, FaultBeforeAck} {
			t.Run(string(point), func(t *testing.T) {
				t.Parallel()

				// A short AckWait brings the crashed exporter's messages back soon.
				bundle := &testBundle{streamBundle: newStream(t, time.Second), dir: t.TempDir()}
				events := mixedEvents(120, hours)
				bundle.publish(t, events...)

				crash := errors.New("crash")
				eb := bundle.start(t, &Config{Dir: bundle.dir, Fault: func(p FaultPoint) error {
					if p == point {
						return crash
					}
					return nil
				}})
				eb.waitBuffered(t, len(events))
				_, err := RequestFlush(context.Background(), bundle.nc, 200*time.Millisecond)
				require.NoError(t, err)
				require.ErrorIs(t, eb.wait(t), crash)

				// The messages come back after AckWait to a new exporter.
				eb2 := bundle.start(t, &Config{Dir: bundle.dir, MaxAge: 50 * time.Millisecond, CompleteInterval: 50 * time.Millisecond})
				testutil.WaitFor(t, 20*time.Second, func() error {
					info, err := bundle.consumer.Info(context.Background())
					if err != nil {
						return err
					}
					if info.AckFloor.Stream != uint64(len(events)) {
						return fmt.Errorf("ack floor %d", info.AckFloor.Stream)
					}
					return nil
				})
				// Every day is in the past: completing them lists any file
				// the crash left unlisted.
				for _, app := range []string{appA, appB} {
					for _, kind := range telemetry.Kinds {
						dir := DayDir(bundle.dir, app, kind, past)
						testutil.WaitFor(t, 10*time.Second, func() error {
							if m, err := ReadManifest(dir); err != nil || !m.Complete {
								return fmt.Errorf("%s not complete: %v", dir, err)
							}
							return nil
						})
					}
				}
				require.NoError(t, eb2.stop(t))

				got, err := readExport(bundle.dir)
				require.NoError(t, err)
				byID, lines := got.byID()
				require.Len(t, byID, len(events), "no event lost")
				require.GreaterOrEqual(t, lines, len(events))
				for _, ev := range events {
					require.Equal(t, line(t, ev), line(t, byID[ev.ID]))
				}
				for _, app := range []string{appA, appB} {
					for _, kind := range telemetry.Kinds {
						requireManifest(t, DayDir(bundle.dir, app, kind, past))
					}
				}
				if point == FaultAfterWrite {
					// The crash left a temp; readers skip it, and a later
					// start removes it once it is stale.
					require.NotEmpty(t, got.temps)
				}
			})
		}
	})

	t.Run("TwoExportersShareTheWork", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		events := mixedEvents(400, hours)
		e1 := bundle.start(t, &Config{Dir: bundle.dir, MaxAge: time.Hour, FetchBatch: 10, InstanceID: "one"})
		e2 := bundle.start(t, &Config{Dir: bundle.dir, MaxAge: time.Hour, FetchBatch: 10, InstanceID: "two"})
		bundle.publish(t, events...)
		testutil.WaitFor(t, 30*time.Second, func() error {
			if n := value(t, e1.exp.metrics.buffered) + value(t, e2.exp.metrics.buffered); int(n) != len(events) {
				return fmt.Errorf("buffered %v", n)
			}
			return nil
		})

		sum, err := RequestFlush(context.Background(), bundle.nc, 3*time.Second)
		require.NoError(t, err)
		require.Equal(t, 2, sum.Exporters)
		require.Equal(t, len(events), sum.Events)
		ids := []string{sum.Replies[0].Exporter, sum.Replies[1].Exporter}
		slices.Sort(ids)
		require.Equal(t, []string{"one", "two"}, ids)

		requireExactly(t, bundle.dir, events)
		for _, app := range []string{appA, appB} {
			for _, kind := range telemetry.Kinds {
				requireManifest(t, DayDir(bundle.dir, app, kind, past))
			}
		}
	})
}

// requireManifest checks that dir's manifest lists exactly its data files,
// with their true line counts, sizes and sums.
func requireManifest(t *testing.T, dir string) {
	t.Helper()
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var want []ManifestFile
	var lines int64
	for _, e := range entries {
		if _, _, ok := parseFileName(e.Name()); ok {
			f, err := statDataFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			want = append(want, f)
			lines += f.Lines
		}
	}
	require.Equal(t, want, m.Files)
	require.Equal(t, lines, m.Lines)
	require.Equal(t, filepath.Base(dir), m.Day)
}

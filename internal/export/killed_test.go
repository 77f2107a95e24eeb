package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// The exporter subprocess of TestExporterKilled is this test binary running
// TestExporterHelperProcess with these variables set.
const (
	exporterHelperEnv      = "GAMEPIPE_EXPORTER_HELPER"
	exporterHelperNATSEnv  = "GAMEPIPE_EXPORTER_HELPER_NATS"
	exporterHelperDirEnv   = "GAMEPIPE_EXPORTER_HELPER_DIR"
	exporterHelperFaultEnv = "GAMEPIPE_EXPORTER_HELPER_FAULT"
)

// TestExporterHelperProcess is not a test: it is the exporter process that
// TestExporterKilled starts and that SIGKILLs itself at a point of a flush.
func TestExporterHelperProcess(t *testing.T) {
	if os.Getenv(exporterHelperEnv) != "1" {
		t.Skip("the exporter subprocess of TestExporterKilled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts, err := eventstream.ConnectOptions(eventstream.RoleExporter, roletest.Credentials(eventstream.RoleExporter))
	require.NoError(t, err)
	nc, err := nats.Connect(os.Getenv(exporterHelperNATSEnv), opts...)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(ctx, eventstream.StreamName)
	require.NoError(t, err)
	cons, err := js.Consumer(ctx, eventstream.StreamName, eventstream.ConsumerExporter)
	require.NoError(t, err)
	point := FaultPoint(os.Getenv(exporterHelperFaultEnv))
	exp, err := New(testConfig(t, &Config{Dir: os.Getenv(exporterHelperDirEnv), MaxAge: time.Hour, Fault: func(p FaultPoint) error {
		if p == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute) // the signal is on its way
		}
		return nil
	}}), &Deps{Logger: zerolog.New(os.Stderr), Conn: nc, Consumer: cons, Stream: stream})
	require.NoError(t, err)
	_ = exp.Run(ctx)
	t.Fatal("helper: the fault never fired")
}

// TestExporterKilled SIGKILLs an exporter process at each point of a flush
// (files written under temporary names, files linked before the manifest,
// everything done but the acks) and lets a new exporter take over: no event
// is lost, every file ends in its day's manifest, and a repeated line can
// only be an event the dead process had written but not acknowledged.
func TestExporterKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("chaos: kills an exporter subprocess")
	}
	past := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	hours := []time.Time{past.Add(10 * time.Hour), past.Add(11 * time.Hour), past.Add(23 * time.Hour)}

	for _, point := range []FaultPoint{FaultAfterWrite, FaultAfterLink, FaultBeforeAck} {
		t.Run(string(point), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// A short AckWait brings the dead exporter's messages back soon.
			bundle := newStream(t, time.Second)
			dir := t.TempDir()
			events := mixedEvents(120, hours)
			bundle.publish(t, events...)

			var out bytes.Buffer
			cmd := exec.Command(os.Args[0], "-test.run=^TestExporterHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(), exporterHelperEnv+"=1", exporterHelperNATSEnv+"="+bundle.srv.ClientURL(),
				exporterHelperDirEnv+"="+dir, exporterHelperFaultEnv+"="+string(point))
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			// Once the helper holds every event, ask for a flush until it dies
			// in it (a request before it subscribed goes unanswered).
			testutil.WaitFor(t, 20*time.Second, func() error {
				info, err := bundle.consumer.Info(ctx)
				if err != nil {
					return err
				}
				if info.NumAckPending != len(events) {
					return fmt.Errorf("%d delivered", info.NumAckPending)
				}
				return nil
			})
			var err error
		wait:
			for {
				_, _ = RequestFlush(ctx, bundle.nc, 200*time.Millisecond)
				select {
				case err = <-exited:
					break wait
				case <-time.After(100 * time.Millisecond):
				}
			}
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "helper: %v\n%s", err, out.String())
			status := exit.Sys().(syscall.WaitStatus)
			require.True(t, status.Signaled() && status.Signal() == syscall.SIGKILL, "helper: %v\n%s", err, out.String())

			// A new exporter: the messages come back after AckWait.
			eb := bundle.start(t, &Config{Dir: dir, MaxAge: 50 * time.Millisecond, CompleteInterval: 50 * time.Millisecond})
			testutil.WaitFor(t, 30*time.Second, func() error {
				info, err := bundle.consumer.Info(ctx)
				if err != nil {
					return err
				}
				if info.AckFloor.Stream != uint64(len(events)) {
					return fmt.Errorf("ack floor %d", info.AckFloor.Stream)
				}
				return nil
			})
			for _, app := range []string{appA, appB} {
				for _, kind := range telemetry.Kinds {
					day := DayDir(dir, app, kind, past)
					testutil.WaitFor(t, 10*time.Second, func() error {
						if m, err := ReadManifest(day); err != nil || !m.Complete {
							return fmt.Errorf("%s not complete: %v", day, err)
						}
						return nil
					})
				}
			}
			require.NoError(t, eb.stop(t))

			got, err := readExport(dir)
			require.NoError(t, err)
			byID, lines := got.byID()
			require.Len(t, byID, len(events), "no event lost")
			for _, ev := range events {
				require.Equal(t, line(t, ev), line(t, byID[ev.ID]))
			}
			if point == FaultAfterWrite {
				// Only temporary files were written: nothing is repeated.
				require.Equal(t, len(events), lines)
			}
			for _, app := range []string{appA, appB} {
				for _, kind := range telemetry.Kinds {
					requireManifest(t, DayDir(dir, app, kind, past))
				}
			}
		})
	}
}

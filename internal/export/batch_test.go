package export

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// publishBatch stores events as one batch message with Nats-Msg-Id id, on
// the first event's subject, with raw poison items after the events at
// their keys' indexes.
func (b *streamBundle) publishBatch(t *testing.T, id string, events []telemetry.Event, poison map[int][]byte) {
	t.Helper()
	data := telemetry.AppendStoredBatchHeader(nil, len(events)+len(poison))
	for i := range events {
		var err error
		data, err = telemetry.AppendStoredItem(data, &events[i])
		require.NoError(t, err)
		if p, ok := poison[i]; ok {
			data = telemetry.AppendStoredItemBytes(data, p)
		}
	}
	_, err := b.js.Publish(context.Background(), events[0].Subject(), data, jetstream.WithMsgID(id))
	require.NoError(t, err)
}

func TestExporterBatchMessages(t *testing.T) {
	t.Parallel()

	past := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	bundle := newStream(t, 10*time.Second)
	dir := t.TempDir()

	// A message whose events fall in two hours (a group spanning the
	// hour's end) goes to two files and is acked once both are written.
	var batch []telemetry.Event
	for i := range 30 {
		batch = append(batch, testEvent(appA, telemetry.KindGameplay, past.Add(10*time.Hour+time.Duration(i)*4*time.Minute)))
	}
	bundle.publishBatch(t, "b1", batch[:20], map[int][]byte{5: []byte("garbage")})
	bundle.publishBatch(t, "b2", batch[20:], nil)
	// The same message again within the window: JetStream drops it.
	bundle.publishBatch(t, "b2", batch[20:], nil)
	// A one-event message of the first format.
	old := testEvent(appB, telemetry.KindFunnel, past.Add(11*time.Hour))
	bundle.publish(t, old)
	// A batch of nothing but poison is terminated...
	onlyPoison := telemetry.AppendStoredItemBytes(telemetry.AppendStoredBatchHeader(nil, 1), []byte("garbage"))
	_, err := bundle.js.Publish(context.Background(), "telemetry."+appA+".gameplay", onlyPoison, jetstream.WithMsgID("b3"))
	require.NoError(t, err)
	// ...as is one that cannot be split (an unknown version).
	_, err = bundle.js.Publish(context.Background(), "telemetry."+appA+".gameplay", []byte{0x91, 0x02}, jetstream.WithMsgID("v2"))
	require.NoError(t, err)

	eb := bundle.start(t, &Config{Dir: dir, MaxAge: time.Hour})
	want := append(append([]telemetry.Event{}, batch...), old)
	eb.waitBuffered(t, len(want))
	require.NoError(t, eb.stop(t))

	got, err := readExport(dir)
	require.NoError(t, err)
	require.Empty(t, got.temps)
	byID, lines := got.byID()
	require.Len(t, byID, len(want))
	require.Equal(t, len(want), lines, "one line per event")
	require.Len(t, got.files, 3, "two hours of gameplay, one of funnel")
	for path, evs := range got.files {
		for _, ev := range evs {
			require.Contains(t, path, wantPath(&ev))
		}
	}
	for _, ev := range want {
		require.Equal(t, line(t, ev), line(t, byID[ev.ID]))
	}
	require.Equal(t, 3.0, value(t, eb.exp.metrics.poison), "two poison items and the unsplittable message")

	testutil.WaitFor(t, time.Minute, func() error {
		info, err := bundle.consumer.Info(context.Background())
		if err != nil {
			return err
		}
		if info.NumAckPending != 0 || info.AckFloor.Stream != 5 {
			return fmt.Errorf("ack floor %d, pending %d; want 5, 0", info.AckFloor.Stream, info.NumAckPending)
		}
		return nil
	})
}

package sink_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// publishBatch publishes events as one batch message, as the API does, on
// subject (the first event's when empty); poison items are raw bytes put
// among them, each after the event at its key's index.
func (bundle *testBundle) publishBatch(t *testing.T, subject, id string, events []telemetry.Event, poison map[int][]byte) {
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
	if subject == "" {
		subject = events[0].Subject()
	}
	_, err := bundle.js.Publish(t.Context(), subject, data, jetstream.WithMsgID(id))
	require.NoError(t, err)
}

func TestSinkBatchMessages(t *testing.T) {
	t.Parallel()

	t.Run("EveryEventOfEveryMessageOnce", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, setupOpts{})
		batch := newEvents(40, telemetry.KindGameplay, bundle.appID)
		bundle.publishBatch(t, "", "b1", batch[:25], nil)
		bundle.publishBatch(t, "", "b2", batch[25:], nil)
		// The one-event messages written before batches still read.
		bundle.publish(t, newEvents(5, telemetry.KindGameplay, bundle.appID)...)
		// A later copy of the first batch, past the dedup window (another
		// id): the primary key drops it.
		bundle.publishBatch(t, "", "b1-again", batch[:25], nil)
		bundle.runSink(t, nil)
		bundle.requireExactlyOnce(t, "gameplay_events", 45)
		require.Zero(t, bundle.count(t, "SELECT count(*) FROM dead_letters"))
	})

	t.Run("PoisonEventsDeadLetteredNeighboursStored", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, setupOpts{})
		good := newEvents(30, telemetry.KindGameplay, bundle.appID)
		// Refused by Postgres only (jsonb refuses \u0000): found by
		// writing the batch event by event.
		refused := newEvent(telemetry.KindGameplay, bundle.appID)
		refused.CustomData = json.RawMessage(`{"name":"\u0000"}`)
		// Another app's event on this app's subject.
		foreign := newEvent(telemetry.KindGameplay, uuid.NewString())
		foreignBytes, err := telemetry.MarshalStored(&foreign)
		require.NoError(t, err)
		events := append(append([]telemetry.Event{}, good[:10]...), refused)
		events = append(events, good[10:]...)
		bundle.publishBatch(t, good[0].Subject(), "poisoned", events,
			map[int][]byte{3: []byte("garbage"), 20: foreignBytes})
		// A container that cannot be split at all.
		_, err = bundle.js.Publish(t.Context(), good[0].Subject(), []byte{0x92, 0x07, 0xc4, 0x00}, jetstream.WithMsgID("bad-version"))
		require.NoError(t, err)
		bundle.runSink(t, nil)

		bundle.requireExactlyOnce(t, "gameplay_events", 30)
		require.Equal(t, 2, bundle.count(t, "SELECT count(*) FROM dead_letters"), "one dead letter per message")
		var data []byte
		var reason string
		require.NoError(t, bundle.schema.Pool.QueryRow(t.Context(),
			"SELECT data, reason FROM dead_letters WHERE stream_seq = 1").Scan(&data, &reason))
		items, err := telemetry.SplitStored(data, nil)
		require.NoError(t, err, "the dead letter is a batch of the poison events")
		require.Len(t, items, 3)
		require.Contains(t, reason, "event 4 of the message")  // garbage
		require.Contains(t, reason, "event 22 of the message") // foreign
		require.Contains(t, reason, "refused by Postgres")
		var ev telemetry.Event
		for _, item := range items {
			if telemetry.UnmarshalStored(item, &ev) == nil && ev.ID == refused.ID {
				return
			}
		}
		t.Fatal("the refused event is not in its dead letter")
	})
}

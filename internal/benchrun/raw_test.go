package benchrun

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/loadgen"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

func TestRawWindow(t *testing.T) {
	t.Parallel()

	sized := func(n, size int) []storedEvent {
		evs := make([]storedEvent, n)
		for i := range evs {
			evs[i].data = make([]byte, size)
		}
		return evs
	}
	require.Equal(t, 128, rawWindow(sized(10, 256<<10)), "32 MiB of 256-KiB batch messages")
	require.Equal(t, 64<<10, rawWindow(sized(10, 100)), "small messages: the api's window")
	require.Equal(t, 64, rawWindow(sized(3, 4<<20)), "at least 64")
	require.Equal(t, 64<<10, rawWindow(nil))
}

func TestRawPublisher(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ns := natstest.Run(t)
	js, err := jetstream.New(ns.Connect(t))
	require.NoError(t, err)
	_, err = eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{Duplicates: time.Minute})
	require.NoError(t, err)
	appID := "72ab8f81-ef36-4712-a046-399a62b9afaa"
	cfg := &Config{Mix: loadgen.DefaultMix}
	events, decoded, err := makeStoredEvents(cfg, appID, 50)
	require.NoError(t, err)
	require.Len(t, events, 50)
	require.Len(t, decoded, 50)

	pub, err := newRawPublisher(ctx, ns.ClientURL(), appID, events)
	require.NoError(t, err)
	require.Equal(t, rawWindow(events), pub.window)

	info := func() *jetstream.StreamInfo {
		s, err := js.Stream(ctx, rawStream)
		require.NoError(t, err)
		i, err := s.Info(ctx)
		require.NoError(t, err)
		return i
	}
	require.Equal(t, time.Minute, info().Config.Duplicates, "TELEMETRY's configuration")
	require.Equal(t, []string{"benchraw.>"}, info().Config.Subjects)

	rate, err := pub.asyncRun(ctx, 20*time.Millisecond)
	require.NoError(t, err)
	require.Positive(t, rate)
	stored := info().State.Msgs
	require.Positive(t, stored)
	require.EqualValues(t, pub.seq.Load(), stored, "every message has its own Nats-Msg-Id: none is a duplicate")

	pub.close(ctx)
	_, err = js.Stream(ctx, rawStream)
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound, "close deletes the raw stream")
	tel, err := js.Stream(ctx, eventstream.StreamName)
	require.NoError(t, err)
	ti, err := tel.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, ti.State.Msgs, "nothing reaches TELEMETRY")
}

func TestRawCopy(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "bench")
	require.NoError(t, err)
	cfg := &Config{Mix: loadgen.DefaultMix}
	_, events, err := makeStoredEvents(cfg, app.AppID.String(), 200)
	require.NoError(t, err)

	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	rate, err := rawCopy(ctx, conn.Conn(), app.AppID.String(), events, 100, time.Nanosecond)
	require.NoError(t, err)
	require.Positive(t, rate)

	kinds := map[telemetry.Kind]int{}
	for _, ev := range events[:100] { // one batch at least was written
		kinds[ev.Kind]++
	}
	for kind, table := range map[telemetry.Kind]string{telemetry.KindPlayer: "player_events", telemetry.KindFunnel: "funnel_steps",
		telemetry.KindGameplay: "gameplay_events", telemetry.KindRealtime: "trajectories"} {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE app_id = $1", app.AppID).Scan(&n))
		require.GreaterOrEqual(t, n, kinds[kind], table)
	}
	var fresh bool
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM gameplay_events WHERE event_id::text = ANY($1))",
		idsOf(events)).Scan(&fresh))
	require.True(t, fresh, "rows get fresh ids")
	var points, positions int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT num_points, cardinality(positions) FROM trajectories LIMIT 1").Scan(&points, &positions))
	require.Equal(t, positions/3, points)
}

func idsOf(events []telemetry.Event) []string {
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	return ids
}

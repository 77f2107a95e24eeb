package eventstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/natstest"
)

func TestStreamAndPublisher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T, cfg *StreamConfig) (*natstest.Server, jetstream.JetStream, jetstream.Stream) {
		t.Helper()
		ns := natstest.Run(t)
		nc := ns.Connect(t)
		require.NoError(t, CheckServer(ctx, nc))
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		s, err := EnsureStream(ctx, js, cfg)
		require.NoError(t, err)
		return ns, js, s
	}

	t.Run("DiscardOldIsRefused", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, (&StreamConfig{Discard: "old"}).Validate(), ErrDiscardOld)
		ns := natstest.Run(t)
		js, err := jetstream.New(ns.Connect(t))
		require.NoError(t, err)
		_, err = EnsureStream(ctx, js, &StreamConfig{Discard: "old"})
		require.ErrorIs(t, err, ErrDiscardOld)
	})

	t.Run("EnsureTwiceAndConsumers", func(t *testing.T) {
		t.Parallel()
		_, js, s := setup(t, &StreamConfig{})
		_, err := EnsureStream(ctx, js, &StreamConfig{})
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, jetstream.DiscardNew, info.Config.Discard)
		require.Equal(t, jetstream.FileStorage, info.Config.Storage)
		for _, name := range []string{ConsumerSink, ConsumerExporter} {
			c, err := EnsureConsumer(ctx, js, &ConsumerConfig{Durable: name, AckWait: 2 * time.Second})
			require.NoError(t, err)
			require.Equal(t, jetstream.AckExplicitPolicy, c.CachedInfo().Config.AckPolicy)
		}
	})

	t.Run("DedupInsideAndOutsideWindow", func(t *testing.T) {
		t.Parallel()
		// The window is far longer than two back-to-back publishes take on a
		// busy machine.
		_, js, s := setup(t, &StreamConfig{Duplicates: 5 * time.Second})
		p := NewPublisher(js, &PublisherConfig{})
		msg := []Message{{Subject: "telemetry.app.gameplay", ID: "id-1", Data: []byte("x")}}
		res, err := p.Publish(ctx, msg)
		require.NoError(t, err)
		require.Zero(t, res.Duplicates)
		res, err = p.Publish(ctx, msg)
		require.NoError(t, err)
		require.Equal(t, 1, res.Duplicates, "a repeat inside the window is recognised")

		// Past the window the stream stores it again; the sink's primary
		// key keeps Postgres at one row (tested in the sink).
		require.Eventually(t, func() bool {
			res, err := p.Publish(ctx, msg)
			return err == nil && res.Duplicates == 0
		}, time.Minute, 200*time.Millisecond)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(2), info.State.Msgs)
	})

	t.Run("StreamFullRefuses", func(t *testing.T) {
		t.Parallel()
		_, js, _ := setup(t, &StreamConfig{MaxBytes: 4096})
		p := NewPublisher(js, &PublisherConfig{Timeout: 2 * time.Second})
		var err error
		for i := 0; i < 200 && err == nil; i++ {
			_, err = p.Publish(ctx, []Message{{Subject: "telemetry.app.gameplay", ID: string(rune('a'+i%26)) + time.Now().String(), Data: make([]byte, 200)}})
		}
		require.ErrorIs(t, err, ErrUnavailable, "a full DiscardNew stream refuses instead of dropping")
	})

	t.Run("ServerDown", func(t *testing.T) {
		t.Parallel()
		ns, js, _ := setup(t, &StreamConfig{})
		p := NewPublisher(js, &PublisherConfig{Timeout: time.Second})
		ns.Shutdown()
		ns.WaitForShutdown()
		_, err := p.Publish(ctx, []Message{{Subject: "telemetry.app.gameplay", ID: "x", Data: []byte("x")}})
		require.ErrorIs(t, err, ErrUnavailable)
	})

	t.Run("FaultHook", func(t *testing.T) {
		t.Parallel()
		_, js, _ := setup(t, &StreamConfig{})
		boom := errors.New("boom")
		p := NewPublisher(js, &PublisherConfig{Fault: func(i int) error {
			if i == 1 {
				return boom
			}
			return nil
		}})
		_, err := p.Publish(ctx, []Message{{Subject: "telemetry.a.player", ID: "1", Data: []byte("x")}, {Subject: "telemetry.a.player", ID: "2", Data: []byte("y")}})
		require.ErrorIs(t, err, ErrUnavailable)
		require.ErrorIs(t, err, boom)
	})
}

func TestVersionAtLeast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have, want string
		ok         bool
	}{
		{"2.9.10", "2.10.0", false},
		{"2.10.0", "2.10.0", true},
		{"2.15.2", "2.10.0", true},
		{"v2.11.0-beta.1", "2.10.0", true},
		{"3.0.0", "2.10.0", true},
		{"", "2.10.0", false},
		{"garbage", "2.10.0", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.ok, VersionAtLeast(tt.have, tt.want), "%s >= %s", tt.have, tt.want)
	}
}

func TestNotifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := natstest.Run(t)
	js, err := jetstream.New(ns.Connect(t))
	require.NoError(t, err)
	s, err := EnsureNotifyStream(ctx, js)
	require.NoError(t, err)

	n := NewNotifier(js)
	note := &Notification{Kind: "emote", ID: "e1", AppID: "app", Status: "succeeded", At: time.Now()}
	require.NoError(t, n.Notify(ctx, note, ""))
	require.NoError(t, n.Notify(ctx, note, ""), "a repeated step publishes once")
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
	m, err := s.GetLastMsgForSubject(ctx, "gamepipe.events.app.emote.succeeded")
	require.NoError(t, err)
	require.Contains(t, string(m.Data), `"status":"succeeded"`)
}

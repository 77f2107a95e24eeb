package eventstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// items returns n batch items of app's gameplay events, their ids from
// base; items of the same n have the same size.
func items(t *testing.T, app string, base, n int) []byte {
	t.Helper()
	var b []byte
	for i := range n {
		ev := telemetry.Event{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", base+i), Kind: telemetry.KindGameplay, AppID: app,
			BuildID: "b", PlayerID: "p", SessionID: "s", EventName: "Jump",
			Timestamp: time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC), ReceivedAt: time.Date(2026, 2, 12, 10, 0, 1, 0, time.UTC),
			CustomData: json.RawMessage(fmt.Sprintf(`{"i":"%06d"}`, base+i)),
		}
		var err error
		b, err = telemetry.AppendStoredItem(b, &ev)
		require.NoError(t, err)
	}
	return b
}

func TestPublisherGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const app = "72ab8f81-ef36-4712-a046-399a62b9afaa"
	subject := "telemetry." + app + ".gameplay"

	setup := func(t *testing.T, cfg *PublisherConfig) (*Publisher, jetstream.Stream) {
		t.Helper()
		ns := natstest.Run(t)
		js, err := jetstream.New(ns.Connect(t))
		require.NoError(t, err)
		s, err := EnsureStream(ctx, js, &StreamConfig{})
		require.NoError(t, err)
		return NewPublisher(js, cfg), s
	}
	// stored returns each stored message's id and event count.
	stored := func(t *testing.T, s jetstream.Stream) (ids []string, counts []int) {
		t.Helper()
		info, err := s.Info(ctx)
		require.NoError(t, err)
		for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			require.NoError(t, err)
			evs, err := telemetry.SplitStored(m.Data, nil)
			require.NoError(t, err)
			for _, ev := range evs {
				require.NoError(t, telemetry.UnmarshalStored(ev, new(telemetry.Event)))
			}
			ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
			counts = append(counts, len(evs))
		}
		return ids, counts
	}

	t.Run("AloneKeepsItsID", func(t *testing.T) {
		t.Parallel()
		p, s := setup(t, &PublisherConfig{})
		msg := []Message{{Subject: subject, ID: "req-1", Data: items(t, app, 0, 20), Events: 20}}
		for range 2 {
			_, err := p.Publish(ctx, msg)
			require.NoError(t, err)
		}
		ids, counts := stored(t, s)
		require.Equal(t, []string{"req-1"}, ids, "the retry is deduplicated")
		require.Equal(t, []int{20}, counts)
	})

	t.Run("ConcurrentCallsShareAMessage", func(t *testing.T) {
		t.Parallel()
		// A linger far past the time it takes to make the calls.
		p, s := setup(t, &PublisherConfig{Linger: 3 * time.Second, Timeout: 20 * time.Second})
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				_, err := p.Publish(ctx, []Message{{Subject: subject, ID: fmt.Sprint("req-", i), Data: items(t, app, 10*i, 3), Events: 3}})
				require.NoError(t, err)
			})
		}
		wg.Wait()
		ids, counts := stored(t, s)
		require.Equal(t, []int{15}, counts, "one message, every call's items")
		require.True(t, strings.HasPrefix(ids[0], "group:"), ids[0])
	})

	t.Run("IdleSubjectSendsAtOnceBusyOneGathers", func(t *testing.T) {
		t.Parallel()
		// The first message is held in Fault until the calls that follow
		// have gathered behind it: they share the next message.
		release := make(chan struct{})
		p, s := setup(t, &PublisherConfig{Group: true, Timeout: 20 * time.Second, Fault: func(i int) error {
			if i == 0 {
				<-release
			}
			return nil
		}})
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := p.Publish(ctx, []Message{{Subject: subject, ID: "req-0", Data: items(t, app, 0, 2), Events: 2}})
			require.NoError(t, err)
		})
		require.Eventually(t, func() bool { // the first is sent without waiting for others
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.busy[subject] == 1
		}, 30*time.Second, 5*time.Millisecond)
		for i := 1; i <= 4; i++ {
			wg.Go(func() {
				_, err := p.Publish(ctx, []Message{{Subject: subject, ID: fmt.Sprint("req-", i), Data: items(t, app, 10*i, 3), Events: 3}})
				require.NoError(t, err)
			})
		}
		require.Eventually(t, func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			f := p.open[subject]
			return f != nil && f.events == 12
		}, 30*time.Second, 5*time.Millisecond)
		close(release)
		wg.Wait()
		ids, counts := stored(t, s)
		require.Equal(t, []int{2, 12}, counts, "the first alone, the rest in one message")
		require.Equal(t, "req-0", ids[0], "a message holding one call keeps its id")
		require.True(t, strings.HasPrefix(ids[1], "group:"), ids[1])
	})

	t.Run("MaxBytesStartsAnotherMessage", func(t *testing.T) {
		t.Parallel()
		one := items(t, app, 0, 4)
		p, s := setup(t, &PublisherConfig{Linger: time.Hour, MaxBytes: 2 * len(one), Timeout: 20 * time.Second})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				_, err := p.Publish(ctx, []Message{{Subject: subject, ID: fmt.Sprint("req-", i), Data: items(t, app, 10*i, 4), Events: 4}})
				require.NoError(t, err)
			})
		}
		// With a linger of an hour, only the cap sends these: a message is
		// full with two calls' items.
		wg.Wait()
		_, counts := stored(t, s)
		require.Equal(t, []int{8, 8}, counts, "a call's items are never split")
	})

	t.Run("HeaderMatchesTelemetry", func(t *testing.T) {
		t.Parallel()
		for _, n := range []int{1, 14, 15, 16, 70000} {
			f := newFlight(subject, 0)
			f.events = n
			got := f.data()
			require.Equal(t, telemetry.AppendStoredBatchHeader(nil, n), got, "n=%d", n)
		}
	})
}

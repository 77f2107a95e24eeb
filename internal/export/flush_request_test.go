package export

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/natstest"
)

func TestRequestFlush(t *testing.T) {
	t.Parallel()

	hour := time.Now().UTC().Truncate(time.Hour)

	t.Run("BurstOfRequestsSharesOneFlush", func(t *testing.T) {
		t.Parallel()

		bundle := newStream(t, 10*time.Second)
		events := mixedEvents(30, []time.Time{hour})
		bundle.publish(t, events...)
		eb := bundle.start(t, &Config{Dir: t.TempDir(), MaxAge: time.Hour, CoalesceWindow: 500 * time.Millisecond})
		eb.waitBuffered(t, len(events))

		// Without a FlushTrigger, the exporter itself coalesces requests
		// that arrive within its window.
		start := make(chan struct{})
		sums := make([]*FlushSummary, 20)
		var wg sync.WaitGroup
		for i := range sums {
			wg.Go(func() {
				<-start
				sum, err := RequestFlush(context.Background(), bundle.nc, 3*time.Second)
				if err == nil {
					sums[i] = sum
				}
			})
		}
		close(start)
		wg.Wait()
		for _, sum := range sums {
			require.NotNil(t, sum)
			require.Equal(t, 1, sum.Exporters)
			require.Equal(t, len(events), sum.Events, "every request got the one flush's reply")
		}
		require.Equal(t, 1.0, value(t, eb.exp.metrics.flushes.WithLabelValues(string(reasonRequest))))
	})

	t.Run("MakesBufferedEventsAppear", func(t *testing.T) {
		t.Parallel()

		bundle := newStream(t, 10*time.Second)
		dir := t.TempDir()
		events := mixedEvents(50, []time.Time{hour, hour.Add(-time.Hour)})
		bundle.publish(t, events...)
		// MaxAge is long: only the request can flush.
		eb := bundle.start(t, &Config{Dir: dir, MaxAge: time.Hour})
		eb.waitBuffered(t, len(events))

		sum, err := RequestFlush(context.Background(), bundle.nc, 3*time.Second)
		require.NoError(t, err)
		require.Equal(t, 1, sum.Exporters)
		require.Equal(t, len(events), sum.Events)
		require.Equal(t, eb.exp.ID(), sum.Replies[0].Exporter)

		// The reply comes after the flush, so the lines are there.
		got, err := readExport(dir)
		require.NoError(t, err)
		_, lines := got.byID()
		require.Equal(t, len(events), lines)
		require.Equal(t, sum.Files, len(got.files))
	})

	// Requests arriving soon after a flush made on request (from several
	// API copies, say) wait for RequestInterval and share one flush.
	t.Run("RequestsWithinIntervalShareOneFlush", func(t *testing.T) {
		t.Parallel()

		bundle := newStream(t, 10*time.Second)
		events := mixedEvents(10, []time.Time{hour})
		bundle.publish(t, events...)
		const interval = 3 * time.Second
		eb := bundle.start(t, &Config{Dir: t.TempDir(), MaxAge: time.Hour, CoalesceWindow: 10 * time.Millisecond,
			RequestInterval: interval})
		eb.waitBuffered(t, len(events))

		// A reply subject per request, as RequestFlush makes: an exporter
		// may answer each reply subject once (allow_responses).
		inbox := bundle.nc.NewInbox()
		replies := make(chan *nats.Msg, 64)
		sub, err := bundle.nc.ChanSubscribe(inbox+".*", replies)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		const requests = 10
		tick := time.NewTicker(100 * time.Millisecond) // each past the CoalesceWindow
		defer tick.Stop()
		first := time.Now()
		var last time.Time
		for i := range requests {
			if i > 0 {
				<-tick.C
			}
			last = time.Now()
			require.NoError(t, bundle.nc.PublishRequest(FlushSubject, fmt.Sprintf("%s.%d", inbox, i), nil))
		}
		for range requests {
			select {
			case <-replies:
			case <-time.After(30 * time.Second):
				require.FailNow(t, "a flush request was not answered")
			}
		}
		flushes := value(t, eb.exp.metrics.flushes.WithLabelValues(string(reasonRequest)))
		require.LessOrEqual(t, flushes, 2+float64(last.Sub(first)/interval), "one flush, then at most one per interval")
	})

	t.Run("NoExporterIsNotAnError", func(t *testing.T) {
		t.Parallel()

		nc := natstest.Run(t).Connect(t)
		sum, err := RequestFlush(context.Background(), nc, 50*time.Millisecond)
		require.NoError(t, err)
		require.Zero(t, sum.Exporters)
	})
}

func TestFlushTrigger(t *testing.T) {
	t.Parallel()

	hour := time.Now().UTC().Truncate(time.Hour)

	t.Run("BurstOfFiftyMakesOneFlush", func(t *testing.T) {
		t.Parallel()

		bundle := newStream(t, 10*time.Second)
		dir := t.TempDir()
		events := mixedEvents(25, []time.Time{hour})
		bundle.publish(t, events...)
		eb := bundle.start(t, &Config{Dir: dir, MaxAge: time.Hour})
		eb.waitBuffered(t, len(events))

		trigger := NewFlushTrigger(bundle.nc, &FlushTriggerConfig{Wait: 3 * time.Second})
		start := make(chan struct{})
		sums := make([]*FlushSummary, 50)
		errs := make([]error, 50)
		var wg sync.WaitGroup
		for i := range sums {
			wg.Go(func() {
				<-start
				sums[i], errs[i] = trigger.Trigger(context.Background())
			})
		}
		close(start)
		wg.Wait()
		for i := range sums {
			require.NoError(t, errs[i])
			require.Equal(t, 1, sums[i].Exporters)
			require.Equal(t, len(events), sums[i].Events)
		}
		require.Equal(t, 1.0, value(t, eb.exp.metrics.flushes.WithLabelValues(string(reasonRequest))))
		got, err := readExport(dir)
		require.NoError(t, err)
		_, lines := got.byID()
		require.Equal(t, len(events), lines)
	})

	t.Run("LaterCallSendsANewRequest", func(t *testing.T) {
		t.Parallel()

		bundle := newStream(t, 10*time.Second)
		eb := bundle.start(t, &Config{Dir: t.TempDir(), MaxAge: time.Hour, RequestInterval: time.Millisecond})
		trigger := NewFlushTrigger(bundle.nc, &FlushTriggerConfig{Wait: 3 * time.Second, JoinWindow: time.Millisecond,
			MinInterval: time.Millisecond})

		for i := range 2 {
			events := mixedEvents(5, []time.Time{hour})
			bundle.publish(t, events...)
			eb.waitBuffered(t, len(events))
			sum, err := trigger.Trigger(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, sum.Exporters, "call %d", i)
			require.Equal(t, len(events), sum.Events, "call %d", i)
		}
		require.Equal(t, 2.0, value(t, eb.exp.metrics.flushes.WithLabelValues(string(reasonRequest))))
	})

	// Calls spread over time, each too late to join the one before, still
	// make at most one request per MinInterval: the ones after the first
	// share a request sent MinInterval after it.
	t.Run("SpreadCallsShareOneRequestPerInterval", func(t *testing.T) {
		t.Parallel()

		bundle := newStream(t, 10*time.Second)
		events := mixedEvents(10, []time.Time{hour})
		bundle.publish(t, events...)
		// The exporter's own limit out of the way: this is the trigger's.
		eb := bundle.start(t, &Config{Dir: t.TempDir(), MaxAge: time.Hour, RequestInterval: time.Millisecond})
		eb.waitBuffered(t, len(events))
		const interval = 2 * time.Second
		trigger := NewFlushTrigger(bundle.nc, &FlushTriggerConfig{Wait: 3 * time.Second, MinInterval: interval})

		const calls = 12
		sums := make([]*FlushSummary, calls)
		errs := make([]error, calls)
		var wg sync.WaitGroup
		tick := time.NewTicker(150 * time.Millisecond) // each call past the 100ms JoinWindow
		defer tick.Stop()
		first := time.Now()
		var last time.Time
		for i := range calls {
			if i > 0 {
				<-tick.C
			}
			last = time.Now()
			wg.Go(func() { sums[i], errs[i] = trigger.Trigger(context.Background()) })
		}
		wg.Wait()
		for i := range calls {
			require.NoError(t, errs[i])
			require.Equal(t, 1, sums[i].Exporters)
		}
		requests := value(t, eb.exp.metrics.flushes.WithLabelValues(string(reasonRequest)))
		require.LessOrEqual(t, requests, 2+float64(last.Sub(first)/interval), "one request, then at most one per interval")
		require.Equal(t, len(events), sums[0].Events)
	})

	t.Run("CallerContextEnds", func(t *testing.T) {
		t.Parallel()

		nc := natstest.Run(t).Connect(t)
		trigger := NewFlushTrigger(nc, &FlushTriggerConfig{Wait: 200 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := trigger.Trigger(ctx)
		require.ErrorIs(t, err, context.Canceled)
	})
}

package benchrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Row names of the sink scenarios.
const (
	rowSink = "sink"
)

// sampleSize is how many events of the backlog the raw COPY ceiling
// writes, again and again with fresh ids.
const sampleSize = 20000

// pollEvery is how often the sink scenarios read the worker's metrics and
// the consumer's state.
const pollEvery = 250 * time.Millisecond

// runSink measures rows/s written by the worker while it works through
// the backlog the ingest scenarios left (the worker was not running
// then), against pgx CopyFrom of the same rows into the same tables from
// one connection.
func runSink(ctx context.Context, b *Bench) ([]Row, error) {
	s := b.stack
	sample, perMsg, backlog, err := b.sampleStream(ctx, sampleSize)
	if err != nil {
		return nil, err
	}
	// The worker commits up to SinkBatchMax messages per transaction, each
	// holding a request's events of one kind: the raw ceiling commits as
	// many rows per transaction, as far as the sample allows.
	txRows := min(len(sample), max(1, int(float64(b.cfg.SinkBatchMax)*perMsg)))
	b.say("%s: gamepipe, worker started on a backlog of %d messages...", rowSink, backlog)
	if err := s.startWorker(ctx); err != nil {
		return nil, err
	}
	prof := b.profile(ctx, 0, map[string]string{"worker": s.pprofWrk})
	var (
		ours    float64
		window  time.Duration
		drained bool
	)
	oursCPU, err := b.phase("gamepipe", func() (err error) {
		ours, window, drained, err = b.measureSink(ctx)
		return err
	})
	b.waitProfiles(prof)
	if err != nil {
		return nil, err
	}
	// Leave the stream empty for the sustained-rate scenario and the worker idle for
	// the raw ceiling.
	if err := b.purgeBacklog(ctx); err != nil {
		return nil, err
	}

	b.say("%s: raw ceiling, pgx CopyFrom of %d of the same rows (fresh ids) in transactions of %d...", rowSink, len(sample), txRows)
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		return nil, fmt.Errorf("error connecting for the raw COPY: %w", err)
	}
	// The same TOAST compression the worker's sink uses (lz4 where the
	// server has it), so the ceiling measures the same work.
	_, _ = conn.Exec(ctx, "SET default_toast_compression = lz4")
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := rawCopy(ctx, conn, s.app.AppID, sample, txRows, warmup); err != nil {
		return nil, err
	}
	var raw float64
	rawCPU, err := b.phase("raw", func() (err error) {
		raw, err = rawCopy(ctx, conn, s.app.AppID, sample, txRows, b.cfg.duration())
		return err
	})
	if err != nil {
		return nil, err
	}

	row := ratioRow(rowSink, "rows/s", ours, raw, 0.7)
	row.Note = fmt.Sprintf("rows/s committed by the worker (gamepipe_sink_rows_total) over %.1fs of a %d-message backlog", window.Seconds(), backlog)
	if drained {
		row.Note += " (drained before the end: a lower bound)"
	}
	row.Note += fmt.Sprintf(". Raw: plain pgx CopyFrom into the same partitioned tables, no savepoint, no decoding from the stream, "+
		"no acks, no players upsert, pgx's own encoding of positions, %d rows per transaction (the worker's %d messages of %.0f events on average, "+
		"at most the sample), one connection. Gamepipe phase: %s. Raw phase: %s.", txRows, b.cfg.SinkBatchMax, perMsg, oursCPU, rawCPU)
	return []Row{row}, nil
}

// sampleStream reads up to n events from the start of TELEMETRY (what the
// ingest scenarios stored, a request's events of one kind per message) and
// returns them with the mean events per message read and the stream's
// size in messages.
func (b *Bench) sampleStream(ctx context.Context, n int) (events []telemetry.Event, perMsg float64, backlog uint64, err error) {
	js := b.stack.js
	stream, err := js.Stream(ctx, eventstream.StreamName)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("error opening %s: %w", eventstream.StreamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	backlog = info.State.Msgs
	if backlog == 0 {
		return nil, 0, 0, errors.New("the stream is empty: the ingest scenarios stored nothing")
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("error reading %s: %w", eventstream.StreamName, err)
	}
	events = make([]telemetry.Event, 0, n)
	var (
		items      [][]byte
		read, seen uint64
	)
	for len(events) < n && read < backlog {
		batch, err := cons.Fetch(int(min(1000, backlog-read)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("error reading %s: %w", eventstream.StreamName, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			if items, err = telemetry.SplitStored(msg.Data(), items[:0]); err != nil {
				return nil, 0, 0, err
			}
			seen += uint64(len(items))
			for _, item := range items {
				var ev telemetry.Event
				if err := telemetry.UnmarshalStored(item, &ev); err != nil {
					return nil, 0, 0, fmt.Errorf("error decoding a stored event: %w", err)
				}
				if len(events) < n {
					events = append(events, ev)
				}
			}
		}
		if got == 0 {
			break
		}
		read += uint64(got)
	}
	if read > 0 {
		perMsg = float64(seen) / float64(read)
	}
	return events, perMsg, backlog, nil
}

// sinkState reads the rows the worker has committed and the messages it has
// yet to write (pending and unacknowledged).
func (b *Bench) sinkState(ctx context.Context) (rows float64, left uint64, err error) {
	m, err := scrapeMetrics(ctx, b.stack.workerURL+"/metrics")
	if err != nil {
		return 0, 0, err
	}
	left, err = b.sinkLeft(ctx)
	return m.sum("gamepipe_sink_rows_total"), left, err
}

// sinkLeft reads the messages the worker has yet to write (pending and
// unacknowledged).
func (b *Bench) sinkLeft(ctx context.Context) (uint64, error) {
	cons, err := b.stack.js.Consumer(ctx, eventstream.StreamName, eventstream.ConsumerSink)
	if err != nil {
		return 0, fmt.Errorf("error reading the sink consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("error reading the sink consumer: %w", err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// measureSink measures the worker's rows/s from its first commit for the
// scenario's duration, or until the backlog is written.
func (b *Bench) measureSink(ctx context.Context) (rate float64, window time.Duration, drained bool, err error) {
	var r0 float64
	var t0 time.Time
	deadline := time.Now().Add(time.Minute)
	for {
		rows, left, err := b.sinkState(ctx)
		if err != nil {
			return 0, 0, false, err
		}
		if rows > 0 || left == 0 {
			r0, t0 = rows, time.Now()
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, false, errors.New("the worker wrote nothing within a minute")
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return 0, 0, false, err
		}
	}
	end := t0.Add(b.cfg.duration())
	r1, t1 := r0, t0
	for time.Now().Before(end) {
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return 0, 0, false, err
		}
		rows, left, err := b.sinkState(ctx)
		if err != nil {
			return 0, 0, false, err
		}
		r1, t1 = rows, time.Now()
		if left == 0 {
			drained = true
			break
		}
	}
	window = t1.Sub(t0)
	if window <= 0 || r1 <= r0 {
		return 0, window, drained, errors.New("the worker wrote no rows during the measurement")
	}
	return (r1 - r0) / window.Seconds(), window, drained, nil
}

// purgeBacklog drops what is left in TELEMETRY and waits until the worker
// has nothing in flight.
func (b *Bench) purgeBacklog(ctx context.Context) error {
	stream, err := b.stack.js.Stream(ctx, eventstream.StreamName)
	if err != nil {
		return err
	}
	if err := stream.Purge(ctx); err != nil {
		return fmt.Errorf("error purging %s: %w", eventstream.StreamName, err)
	}
	if _, err := b.waitDrained(ctx, 60*time.Second); err != nil {
		return err
	}
	return nil
}

// waitDrained waits until the sink consumer has nothing pending or
// unacknowledged, at most maxWait, and reports whether it got there.
func (b *Bench) waitDrained(ctx context.Context, maxWait time.Duration) (bool, error) {
	deadline := time.Now().Add(maxWait)
	for {
		left, err := b.sinkLeft(ctx)
		if err != nil {
			return false, err
		}
		if left == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return false, err
		}
	}
}

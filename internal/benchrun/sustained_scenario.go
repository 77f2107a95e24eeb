package benchrun

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/loadgen"
)

// Row names of the sustained-rate scenario.
const (
	rowSustained    = "sustained end-to-end rate"
	rowSustainedCPU = "sustained rate, CPU per event"
)

// Thresholds of a sustained rate.
const (
	// sustainLagP99 is the most the sink's lag p99 may be.
	sustainLagP99 = 1.0
	// sustainFirst is the first offered rate tried, as a fraction of the max
	// ingest rate: the target, so that the first trial already says whether
	// it is met.
	sustainFirst = 0.35
	// sustainAccepted is the least share of the offered events the api
	// must accept for a rate to count as offered at all.
	sustainAccepted = 0.95
	// sustainWarmup is offered before each trial's window and left out.
	sustainWarmup = 2 * time.Second
	// sustainInFlight is the trials' cap on requests in flight, as a
	// multiple of BENCH_BATCH_CONCURRENCY. A paced rate is offered as many
	// game clients would, each sending whether or not the others have their
	// answers: when the pipeline's work slows the answers, more are in
	// flight. A cap of BENCH_BATCH_CONCURRENCY itself would make loadgen
	// offer less as soon as answers take longer than that many per second
	// allow (16 in flight at 50 ms each: 320 requests/s), and count the
	// client's wait as the api's refusal; the cap stays, against a runaway.
	sustainInFlight = 4
)

// sustainProcs are the processes whose CPU per event the row reports.
var sustainProcs = []string{"api", "natsd", "worker", "postgres"}

// trial is one offered rate of the sustained-rate search.
type trial struct {
	offered  float64 // events/s offered
	accepted float64 // events/s the api answered 200 in the window
	p50, p99 float64 // the sink's lag over the window, in seconds
	above    bool    // p99 beyond the histogram's largest bound
	// growth is how many messages the backlog grew over the window (the
	// least-squares slope of its samples times the window), allowed the
	// most it may grow and still count as steady.
	growth, allowed float64
	msgsPerSec      float64 // messages stored in TELEMETRY per second
	ok              bool
	why             string // why it failed
	cpu             cpuUse
}

// runSustained searches for the highest steady rate the whole pipeline
// holds: events offered to the api in batches of 100 with the worker
// running, for BENCH_SUSTAIN_SECONDS each, while the sink's lag p99 stays
// under 1 s and its backlog does not grow. The first rate tried is the
// target (0.35 of the max ingest rate), then the search halves the
// interval between the highest rate held and the lowest that was not
// (starting from 0 and the max ingest rate), BENCH_SUSTAIN_STEPS rates in
// all.
func runSustained(ctx context.Context, b *Bench) ([]Row, error) {
	if b.ingestEventsPerSec <= 0 {
		return nil, errors.New("needs the batch ingest figure (ingest-batch), which did not run or failed")
	}
	if err := b.stack.startWorker(ctx); err != nil {
		return nil, err
	}
	maxRate := b.ingestEventsPerSec
	lo, hi, frac := 0.0, 1.0, sustainFirst
	var best *trial
	var tried []string
	for step := range b.cfg.SustainSteps {
		// Each trial starts from an empty stream, an idle sink and no
		// dashboard rollup running.
		if err := b.awaitRollupIdle(ctx); err != nil {
			return nil, err
		}
		if err := b.purgeBacklog(ctx); err != nil {
			return nil, err
		}
		b.say("%s: offering %.0f events/s (%.3f of the max ingest rate %.0f) for %ds, step %d of %d...", rowSustained,
			frac*maxRate, frac, maxRate, b.cfg.SustainSeconds, step+1, b.cfg.SustainSteps)
		t, err := b.sustainTrial(ctx, frac*maxRate)
		if err != nil {
			return nil, err
		}
		verdict := "held"
		if !t.ok {
			verdict = "not held: " + t.why
		}
		b.say("  %.0f events/s: %s (lag p99 %.3fs, backlog grew %.0f messages, allowed %.0f)", t.offered, verdict, t.p99, t.growth, t.allowed)
		if t.ok {
			verdict += fmt.Sprintf(", p99 %.2fs", t.p99)
		}
		tried = append(tried, fmt.Sprintf("%.0f (%.3f) %s", t.offered, frac, verdict))
		if t.ok {
			lo = frac
			if best == nil || t.offered > best.offered {
				best = t
			}
		} else {
			hi = frac
		}
		frac = (lo + hi) / 2
	}
	if err := b.purgeBacklog(ctx); err != nil {
		return nil, err
	}

	search := fmt.Sprintf("Rates tried in order, events/s (fraction of max): %s.", strings.Join(tried, "; "))
	how := fmt.Sprintf("offered to the api in batches of 100 (loadgen, %d in flight at most, paced), worker running; each rate held for %ds "+
		"after a %s warmup, from an empty stream; it holds when the api accepts ≥ %.0f%% of it, the sink's lag p99 (commit time − received_at, "+
		"gamepipe_sink_lag_seconds over the window, interpolated) is under %.0f s, and the backlog (sink consumer pending + unacknowledged, "+
		"sampled every second) grows, by its least-squares slope over the window, less than one second of the messages stored "+
		"(at least 2 × SINK_BATCH_MAX). Raw: gamepipe's own max ingest rate with batches of 100 at the same fsync setting (%s row, same run).",
		sustainInFlight*b.cfg.BatchConcurrency, b.cfg.SustainSeconds, sustainWarmup, 100*sustainAccepted, sustainLagP99, syncName(rowIngestBatch, b.step.sync))
	if best == nil {
		row := ratioRow(rowSustained, "events/s", 0, maxRate, sustainFirst)
		row.Note = "no rate tried held; " + how + " " + search
		cpu := Row{Scenario: rowSustainedCPU, Unit: "µs/event", Note: "no rate held, so none to measure at."}
		return []Row{row, cpu}, nil
	}
	row := ratioRow(rowSustained, "events/s", best.offered, maxRate, sustainFirst)
	row.Note = fmt.Sprintf("highest steady offered rate found: %.0f events/s (%.0f accepted), lag p50 %.3fs p99 %.3fs, backlog growth %.0f "+
		"messages over the window (allowed %.0f; %.0f messages stored/s); %s %s Phase at that rate: %s.",
		best.offered, best.accepted, best.p50, best.p99, best.growth, best.allowed, best.msgsPerSec, how, search, best.cpu.text)
	total := 0.0
	var parts []string
	for _, p := range sustainProcs {
		us := best.cpu.perOp(p, best.accepted)
		total += us
		parts = append(parts, fmt.Sprintf("%s %.1f µs", p, us))
	}
	cpu := Row{Scenario: rowSustainedCPU, Unit: "µs/event", Ours: num(total)}
	cpu.Note = fmt.Sprintf("CPU (user + system, /proc) per event accepted, at the sustained rate above (%.0f events/s), summed over the "+
		"pipeline's processes: %s (postgres = the backends of the bench database); the load generator %.1f µs besides. No target: "+
		"it says where the machine's CPU goes.", best.accepted, strings.Join(parts, ", "), best.cpu.perOp("bench", best.accepted))
	return []Row{row, cpu}, nil
}

// sustainTrial offers rate events/s for the configured window and judges
// whether the pipeline held it.
func (b *Bench) sustainTrial(ctx context.Context, rate float64) (*trial, error) {
	s := b.stack
	window := time.Duration(b.cfg.SustainSeconds) * time.Second
	reqRate := rate / 100
	type loaded struct {
		res *loadgen.Result
		err error
	}
	done := make(chan loaded, 1)
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		res, err := b.load(loadCtx, loadgen.Config{BatchSize: 100, Concurrency: sustainInFlight * b.cfg.BatchConcurrency, Rate: reqRate,
			Duration: window, Warmup: sustainWarmup, Sources: b.sourcesFor(reqRate * 1.2)})
		done <- loaded{res, err}
	}()
	fail := func(err error) (*trial, error) {
		cancel()
		<-done
		return nil, err
	}
	if err := sleepCtx(ctx, sustainWarmup); err != nil {
		return fail(err)
	}
	before := b.cpu()
	m0, err := scrapeMetrics(ctx, s.workerURL+"/metrics")
	if err != nil {
		return fail(err)
	}
	seq0, err := b.streamLastSeq(ctx)
	if err != nil {
		return fail(err)
	}
	t0 := time.Now()
	var at, left []float64
	var out loaded
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
sample:
	for {
		select {
		case out = <-done:
			break sample
		case <-tick.C:
			n, err := b.sinkLeft(ctx)
			if err != nil {
				return fail(err)
			}
			at, left = append(at, time.Since(t0).Seconds()), append(left, float64(n))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	after := b.cpu()
	if out.err != nil {
		return nil, out.err
	}
	m1, err := scrapeMetrics(ctx, s.workerURL+"/metrics")
	if err != nil {
		return nil, err
	}
	seq1, err := b.streamLastSeq(ctx)
	if err != nil {
		return nil, err
	}

	t := &trial{offered: rate, accepted: out.res.EventsPerSec(), cpu: cpuUse{text: after.since(before)}}
	t.cpu.secs, t.cpu.wall = after.used(before)
	const lagMetric = "gamepipe_sink_lag_seconds"
	delta := histogramDelta(m0.histogram(lagMetric), m1.histogram(lagMetric))
	t.p99, t.above = quantile(0.99, delta)
	t.p50, _ = quantile(0.5, delta)
	if t.cpu.wall > 0 {
		t.msgsPerSec = float64(seq1-seq0) / t.cpu.wall
	}
	t.growth = slope(at, left) * t.cpu.wall
	t.allowed = max(t.msgsPerSec, float64(2*b.cfg.SinkBatchMax))
	switch {
	case t.accepted < sustainAccepted*rate:
		t.why = fmt.Sprintf("the api accepted %.0f events/s (%s)", t.accepted, resultLine(out.res))
	case math.IsNaN(t.p99):
		t.why = "the sink committed nothing in the window"
	case t.above || t.p99 >= sustainLagP99:
		t.why = fmt.Sprintf("lag p99 %.2fs", t.p99)
	case t.growth >= t.allowed:
		t.why = fmt.Sprintf("backlog grew %.0f messages", t.growth)
	default:
		t.ok = true
	}
	return t, nil
}

// streamLastSeq is TELEMETRY's last sequence number: the messages stored
// so far, purges included.
func (b *Bench) streamLastSeq(ctx context.Context) (uint64, error) {
	stream, err := b.stack.js.Stream(ctx, eventstream.StreamName)
	if err != nil {
		return 0, fmt.Errorf("error opening %s: %w", eventstream.StreamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("error reading %s: %w", eventstream.StreamName, err)
	}
	return info.State.LastSeq, nil
}

// slope is the least-squares slope of y over x, 0 with fewer than two
// points.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 || len(x) != len(y) {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// rollupIdleWait bounds the wait for the worker's dashboard rollup.
const rollupIdleWait = 20 * time.Minute

// awaitRollupIdle waits until no dashboard_rollup job is waiting or
// running. The worker runs one at start and every DashboardRollupInterval;
// on the rows the ingest scenarios left it reads the whole day and would
// take the trial's Postgres CPU, so the sustained rate measures the
// telemetry path alone (bench/README.md, "The rows").
func (b *Bench) awaitRollupIdle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, rollupIdleWait)
	defer cancel()
	said := false
	for {
		var busy bool
		err := b.stack.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job
			WHERE kind = 'dashboard_rollup' AND state IN ('available', 'running', 'retryable', 'scheduled')
				AND scheduled_at <= now())`).Scan(&busy)
		if err != nil {
			return fmt.Errorf("waiting for the dashboard rollup: %w", err)
		}
		if !busy {
			return nil
		}
		if !said {
			b.say("%s: waiting for the worker's dashboard rollup to finish...", rowSustained)
			said = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the dashboard rollup still runs after %s: %w", rollupIdleWait, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

package benchrun

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gamepipe/gamepipe/internal/loadgen"
)

// Row names of the ingest scenarios.
const (
	rowIngestBatch     = "ingest, batches of 100"
	rowIngestSingle    = "ingest, single events"
	rowIngestSingleP99 = "ingest, single events, p99"
	rowIngestSingleCPU = "ingest, single events, CPU per request"
)

// rawPoolSize is how many distinct encoded events the raw publishers
// cycle through (each publish gets its own Nats-Msg-Id).
const rawPoolSize = 4096

// warmup is sent before each measured phase and left out of it.
const warmup = time.Second

// best keeps the best of several rounds of one side (raw or gamepipe):
// on a shared machine the highest throughput seen is the one least
// disturbed by others.
type best struct {
	rate float64
	cpu  string
	res  *loadgen.Result    // gamepipe's, for its latencies and statuses
	lat  *loadgen.Histogram // raw's latencies, for the single-event scenario
}

func (b *best) offer(rate float64, cpu string, res *loadgen.Result, lat *loadgen.Histogram) {
	if rate > b.rate {
		*b = best{rate: rate, cpu: cpu, res: res, lat: lat}
	}
}

// runIngestBatch measures events/s accepted with batches of 100 (200 only
// after every JetStream ack) against the raw ceiling: JetStream async
// publish of the same encoded events from one Go process, into a stream
// with TELEMETRY's configuration.
func runIngestBatch(ctx context.Context, b *Bench) ([]Row, error) {
	pub, err := b.rawPublisher(ctx)
	if err != nil {
		return nil, err
	}
	defer pub.close(ctx)
	// The api publishes a request of 100 events as one message per kind.
	pub.events = batchMessages(pub.events, 100)
	if _, err := pub.asyncRun(ctx, warmup); err != nil {
		return nil, err
	}
	var raw, ours best
	sources := 0
	for round := range b.cfg.Rounds {
		b.say("%s: raw ceiling, JetStream async publish (64k window) from one process%s...", rowIngestBatch, b.roundLabel(round))
		var rate float64
		cpu, err := b.phase("raw", func() (err error) {
			rate, err = pub.asyncRun(ctx, b.cfg.duration())
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("raw async publish: %w", err)
		}
		raw.offer(rate, cpu, nil, nil)
		if sources == 0 {
			sources = b.sourcesFor(rate / 100 * 1.2)
		}

		b.say("%s: gamepipe, %d in flight from %d source addresses%s...", rowIngestBatch, b.cfg.BatchConcurrency, sources, b.roundLabel(round))
		prof := b.profile(ctx, "ingest-batch", round, map[string]string{"api": b.stack.pprofAPI})
		var res *loadgen.Result
		cpu, err = b.phase("gamepipe", func() (err error) {
			res, err = b.load(ctx, loadgen.Config{BatchSize: 100, Concurrency: b.cfg.BatchConcurrency,
				Duration: b.cfg.duration(), Warmup: warmup, Sources: sources})
			return err
		})
		b.waitProfiles(prof)
		if err != nil {
			return nil, err
		}
		ours.offer(res.EventsPerSec(), cpu, res, nil)
	}
	b.ingestEventsPerSec = ours.rate
	row := ratioRow(rowIngestBatch, "events/s", ours.rate, raw.rate, 0.5)
	row.Note = fmt.Sprintf("events/s answered 200 (after every JetStream ack); %d requests in flight from %d source addresses "+
		"(≤ %.0f req/s each, limiter on); p99 %s; %s. Raw: async publish, 64k window, the same encoded events in batch messages of 100 of one kind, "+
		"stream with TELEMETRY's config.%s Gamepipe phase: %s. Raw phase: %s.", b.cfg.BatchConcurrency, sources, b.cfg.sourceRate(),
		ours.res.Latency.Quantile(0.99).Round(100*time.Microsecond), resultLine(ours.res), b.roundsNote(), ours.cpu, raw.cpu)
	return []Row{row}, nil
}

// runIngestSingle measures accepted requests/s and their p99 with one
// event per request, against the minimal ingest server (RunMinimalIngest)
// driven by the same load generator with the same connections and source
// addresses, in alternating phases of the same run; and the CPU each
// server spends per request.
func runIngestSingle(ctx context.Context, b *Bench) ([]Row, error) {
	s := b.stack
	if err := s.startMinimal(ctx); err != nil {
		return nil, err
	}
	defer s.stopMinimal(ctx)
	c := b.cfg.SingleConcurrency
	single := func(sources int, d, warm time.Duration) loadgen.Config {
		return loadgen.Config{BatchSize: 1, Concurrency: c, Duration: d, Warmup: warm, Sources: sources}
	}
	// Size the source addresses from the minimal server's rate, so that the
	// per-IP limit (the api's) caps neither side: a short run from as many
	// addresses as the bench allows, which also warms up both sides.
	probe, err := b.loadAt(ctx, s.minimalURL, single(b.sourcesFor(1e9), 2*time.Second, 0))
	if err != nil {
		return nil, fmt.Errorf("minimal server: %w", err)
	}
	sources := b.sourcesFor(probe.AcceptedPerSec() * 1.5)
	if _, err := b.load(ctx, single(sources, warmup, 0)); err != nil {
		return nil, err
	}
	var raw, ours best
	var rawCPU, oursCPU cpuUse
	for round := range b.cfg.Rounds {
		b.say("%s: raw ceiling, minimal ingest server, %d in flight from %d source addresses%s...", rowIngestSingle, c, sources, b.roundLabel(round))
		var res *loadgen.Result
		u, err := b.phaseCPU("raw", func() (err error) {
			res, err = b.loadAt(ctx, s.minimalURL, single(sources, b.cfg.duration(), warmup))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("minimal server: %w", err)
		}
		if res.AcceptedPerSec() > raw.rate {
			rawCPU = u
		}
		raw.offer(res.AcceptedPerSec(), u.text, res, nil)

		b.say("%s: gamepipe, %d in flight from %d source addresses%s...", rowIngestSingle, c, sources, b.roundLabel(round))
		prof := b.profile(ctx, "ingest-single", round, map[string]string{"api": s.pprofAPI})
		u, err = b.phaseCPU("gamepipe", func() (err error) {
			res, err = b.load(ctx, single(sources, b.cfg.duration(), warmup))
			return err
		})
		b.waitProfiles(prof)
		if err != nil {
			return nil, err
		}
		if res.AcceptedPerSec() > ours.rate {
			oursCPU = u
		}
		ours.offer(res.AcceptedPerSec(), u.text, res, nil)
	}
	rate := ratioRow(rowIngestSingle, "requests/s", ours.rate, raw.rate, 0.75)
	rate.Note = fmt.Sprintf("requests/s answered 200, one event each; %d in flight from %d source addresses (≤ %.0f req/s each, limiter on); %s. "+
		"Raw: the minimal ingest server (net/http, reads the body, publishes it to a stream with TELEMETRY's config with a Nats-Msg-Id "+
		"of the same shape, waits for the ack, answers 200: no auth, rate limit, decoding, validation, metrics or logs), same load "+
		"generator, connections and source addresses; %s.%s Gamepipe phase: %s. Raw phase: %s.",
		c, sources, b.cfg.sourceRate(), resultLine(ours.res), resultLine(raw.res), b.roundsNote(), ours.cpu, raw.cpu)
	res := ours.res
	p99 := limitRow(rowIngestSingleP99, "ms", millis(res.Latency.Quantile(0.99)), millis(raw.res.Latency.Quantile(0.99)), 25)
	p99.Note = fmt.Sprintf("the phase above: p50 %s, p90 %s, max %s (loadgen's histogram, ±1.6%%); the minimal server's p50 %s, p99 in the raw column.",
		res.Latency.Quantile(0.5).Round(10*time.Microsecond), res.Latency.Quantile(0.9).Round(10*time.Microsecond),
		res.Latency.Max().Round(10*time.Microsecond), raw.res.Latency.Quantile(0.5).Round(10*time.Microsecond))
	apiUS, minUS := oursCPU.perOp("api", ours.rate), rawCPU.perOp("minimal", raw.rate)
	cpu := Row{Scenario: rowIngestSingleCPU, Unit: "µs/request", Ours: num(apiUS), Raw: num(minUS)}
	if minUS > 0 {
		cpu.Ratio = num(apiUS / minUS)
	}
	cpu.Note = fmt.Sprintf("CPU (user + system, /proc/<pid>/stat) of the server process over its phase, per request answered 200: the api %.0f µs, "+
		"the minimal server %.0f µs; the ratio column is api ÷ minimal (the CPU price of auth, rate limit, decoding, validation and metrics), "+
		"no target. Per request in the same phases, nats-server %.0f µs (gamepipe) / %.0f µs (minimal), the load generator %.0f / %.0f µs.",
		apiUS, minUS, oursCPU.perOp("natsd", ours.rate), rawCPU.perOp("natsd", raw.rate), oursCPU.perOp("bench", ours.rate), rawCPU.perOp("bench", raw.rate))
	return []Row{rate, p99, cpu}, nil
}

// rawPublisher prepares a raw publisher with a fresh BENCH_RAW stream.
func (b *Bench) rawPublisher(ctx context.Context) (*rawPublisher, error) {
	events, _, err := makeStoredEvents(b.cfg, b.stack.app.AppID, rawPoolSize)
	if err != nil {
		return nil, err
	}
	return newRawPublisher(ctx, b.stack.natsURL, b.stack.app.AppID, events)
}

// roundLabel is " (round 2 of 3)" when there are several rounds.
func (b *Bench) roundLabel(round int) string {
	if b.cfg.Rounds < 2 {
		return ""
	}
	return fmt.Sprintf(" (round %d of %d)", round+1, b.cfg.Rounds)
}

// roundsNote says how the rounds were combined.
func (b *Bench) roundsNote() string {
	if b.cfg.Rounds < 2 {
		return ""
	}
	return fmt.Sprintf(" Best of %d alternating rounds on each side.", b.cfg.Rounds)
}

func millis(d time.Duration) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(d) / float64(time.Millisecond)
}

// rowAPIMemory is the api memory row.
const rowAPIMemory = "api memory, RSS at the ingest peak"

// runAPIMemory reads the api's peak resident set (VmHWM), which the
// ingest scenarios set: nothing later loads it as much.
func runAPIMemory(_ context.Context, b *Bench) ([]Row, error) {
	peak, current, err := b.stack.api.memory()
	if err != nil {
		return nil, err
	}
	mb := float64(peak) / (1 << 20)
	row := limitRow(rowAPIMemory, "MB", mb, math.NaN(), 150)
	row.Note = fmt.Sprintf("VmHWM of the api process (pid %d) over the whole run, with up to %d keep-alive connections open "+
		"(one per source address, as many clients); VmRSS now %.0f MB.", b.stack.api.pid(), b.maxSources, float64(current)/(1<<20))
	return []Row{row}, nil
}

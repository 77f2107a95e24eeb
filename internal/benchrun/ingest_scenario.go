package benchrun

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gamepipe/gamepipe/internal/loadgen"
)

// Row names of the ingest scenarios, which run at each fsync setting and
// so end with it (syncName).
const (
	rowIngestBatch     = "ingest, batches of 100"
	rowIngestBatchCPU  = "ingest, batches of 100, CPU per event"
	rowIngestSingle    = "ingest, single events"
	rowIngestSingleP99 = "ingest, single events, p99"
	rowIngestSingleCPU = "ingest, single events, CPU per request"
)

// Targets of the ingest rows with natsd fsyncing every write (syncAlways),
// on the reference machine (bench/README.md). At other settings the rows
// have none.
const (
	batchTargetAlways     = 45000 // events/s with batches of 100
	singleTargetAlways    = 6000  // requests/s of one event
	singleP99TargetAlways = 50    // ms
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
	cpu  cpuUse
	res  *loadgen.Result
}

func (b *best) offer(rate float64, cpu cpuUse, res *loadgen.Result) {
	if rate > b.rate {
		*b = best{rate: rate, cpu: cpu, res: res}
	}
}

// runIngestBatch measures events/s accepted with batches of 100 (200 only
// after every JetStream ack) against the raw ceiling: JetStream async
// publish of the same encoded events from one Go process, into a stream
// with TELEMETRY's configuration on the same natsd; and the CPU each
// process spends per event.
func runIngestBatch(ctx context.Context, b *Bench) ([]Row, error) {
	pub, err := b.rawPublisher(ctx)
	if err != nil {
		return nil, err
	}
	defer pub.close(ctx)
	if _, err := pub.asyncRun(ctx, warmup); err != nil {
		return nil, err
	}
	batch := func(sources int, d, warm time.Duration) loadgen.Config {
		return loadgen.Config{BatchSize: 100, Concurrency: b.cfg.BatchConcurrency, Duration: d, Warmup: warm, Sources: sources}
	}
	name := b.step.name(rowIngestBatch)
	var raw, ours best
	sources := 0
	for round := range b.cfg.Rounds {
		b.say("%s: raw ceiling, JetStream async publish (%d messages in flight at most) from one process%s...", name, pub.window, b.roundLabel(round))
		var rate float64
		cpu, err := b.phaseCPU("raw", func() (err error) {
			rate, err = pub.asyncRun(ctx, b.cfg.duration())
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("raw async publish: %w", err)
		}
		raw.offer(rate, cpu, nil)
		if sources == 0 {
			if sources, err = b.uncappedSources(ctx, batch(b.sourcesFor(rate/100*1.2), probeFor, 0)); err != nil {
				return nil, err
			}
		}

		b.say("%s: gamepipe, %d in flight from %d source addresses%s...", name, b.cfg.BatchConcurrency, sources, b.roundLabel(round))
		prof := b.profile(ctx, round, map[string]string{"api": b.stack.pprofAPI})
		var res *loadgen.Result
		cpu, err = b.phaseCPU("gamepipe", func() (err error) {
			res, err = b.load(ctx, batch(sources, b.cfg.duration(), warmup))
			return err
		})
		b.waitProfiles(prof)
		if err != nil {
			return nil, err
		}
		ours.offer(res.EventsPerSec(), cpu, res)
	}
	b.ingestEventsPerSec = ours.rate
	row := figureRow(rowIngestBatch, "events/s", ours.rate, raw.rate)
	row.Note = fmt.Sprintf("%s events/s answered 200 (after every JetStream ack); %d requests in flight from %d source addresses "+
		"(≤ %.0f req/s each, limiter on); p99 %s; %s. Raw: async publish, %d messages (32 MiB) in flight at most, the same encoded events "+
		"in batch messages of 100 of one kind, stream with TELEMETRY's config on the same natsd.%s Gamepipe phase: %s. Raw phase: %s.",
		syncNote(b.step.sync), b.cfg.BatchConcurrency, sources, b.cfg.sourceRate(), ours.res.Latency.Quantile(0.99).Round(100*time.Microsecond),
		resultLine(ours.res), pub.window, b.roundsNote(), ours.cpu.text, raw.cpu.text) + b.cappedNote(ours.res, sources)
	b.ingestTarget(&row, ">=", batchTargetAlways)

	apiUS, pubUS := ours.cpu.perOp("api", ours.rate), raw.cpu.perOp("bench", raw.rate)
	cpu := figureRow(rowIngestBatchCPU, "µs/event", apiUS, pubUS)
	cpu.Note = fmt.Sprintf("CPU (user + system, /proc/<pid>/stat) per event over the phases above: the api %.1f µs against the raw "+
		"publisher's %.1f µs (the ratio column: the CPU price of HTTP, auth, rate limit, decoding, validation, the stream encoding "+
		"and metrics), no target. Per event and process, gamepipe phase: %s (bench = the load generator); raw phase: %s "+
		"(bench = the raw publisher).", apiUS, pubUS, ours.cpu.perOpList(ours.rate), raw.cpu.perOpList(raw.rate))
	return []Row{row, cpu}, nil
}

// runIngestSingle measures accepted requests/s and their p99 with one
// event per request, against the minimal ingest server (RunMinimalIngest)
// on the same natsd, driven by the same load generator with the same
// connections and source addresses, in alternating phases of the same run;
// and the CPU each process spends per request.
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
	sources, err := b.uncappedSources(ctx, single(b.sourcesFor(probe.AcceptedPerSec()*1.5), probeFor, 0))
	if err != nil {
		return nil, err
	}
	name := b.step.name(rowIngestSingle)
	var raw, ours best
	for round := range b.cfg.Rounds {
		b.say("%s: raw ceiling, minimal ingest server, %d in flight from %d source addresses%s...", name, c, sources, b.roundLabel(round))
		var res *loadgen.Result
		u, err := b.phaseCPU("raw", func() (err error) {
			res, err = b.loadAt(ctx, s.minimalURL, single(sources, b.cfg.duration(), warmup))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("minimal server: %w", err)
		}
		raw.offer(res.AcceptedPerSec(), u, res)

		b.say("%s: gamepipe, %d in flight from %d source addresses%s...", name, c, sources, b.roundLabel(round))
		prof := b.profile(ctx, round, map[string]string{"api": s.pprofAPI})
		u, err = b.phaseCPU("gamepipe", func() (err error) {
			res, err = b.load(ctx, single(sources, b.cfg.duration(), warmup))
			return err
		})
		b.waitProfiles(prof)
		if err != nil {
			return nil, err
		}
		ours.offer(res.AcceptedPerSec(), u, res)
	}
	rate := figureRow(rowIngestSingle, "requests/s", ours.rate, raw.rate)
	rate.Note = fmt.Sprintf("%s requests/s answered 200, one event each; %d in flight from %d source addresses (≤ %.0f req/s each, limiter on); %s. "+
		"Raw: the minimal ingest server (net/http, reads the body, publishes it to a stream with TELEMETRY's config on the same natsd with a "+
		"Nats-Msg-Id of the same shape, waits for the ack, answers 200: no auth, rate limit, decoding, validation, metrics or logs), same load "+
		"generator, connections and source addresses; %s.%s Gamepipe phase: %s. Raw phase: %s.", syncNote(b.step.sync),
		c, sources, b.cfg.sourceRate(), resultLine(ours.res), resultLine(raw.res), b.roundsNote(), ours.cpu.text, raw.cpu.text) +
		b.cappedNote(ours.res, sources)
	b.ingestTarget(&rate, ">=", singleTargetAlways)

	res := ours.res
	p99 := Row{Scenario: rowIngestSingleP99, Unit: "ms", Ours: num(millis(res.Latency.Quantile(0.99))), Raw: num(millis(raw.res.Latency.Quantile(0.99)))}
	p99.Note = fmt.Sprintf("the phase above: p50 %s, p90 %s, max %s (loadgen's histogram, ±1.6%%); the minimal server's p50 %s, p99 in the raw column.",
		res.Latency.Quantile(0.5).Round(10*time.Microsecond), res.Latency.Quantile(0.9).Round(10*time.Microsecond),
		res.Latency.Max().Round(10*time.Microsecond), raw.res.Latency.Quantile(0.5).Round(10*time.Microsecond))
	b.ingestTarget(&p99, "<", singleP99TargetAlways)

	apiUS, minUS := ours.cpu.perOp("api", ours.rate), raw.cpu.perOp("minimal", raw.rate)
	cpu := figureRow(rowIngestSingleCPU, "µs/request", apiUS, minUS)
	cpu.Note = fmt.Sprintf("CPU (user + system, /proc/<pid>/stat) of the server process over its phase, per request answered 200: the api %.1f µs, "+
		"the minimal server %.1f µs; the ratio column is api ÷ minimal (the CPU price of auth, rate limit, decoding, validation and metrics), "+
		"no target. Per request and process, gamepipe phase: %s; minimal phase: %s (bench = the load generator).",
		apiUS, minUS, ours.cpu.perOpList(ours.rate), raw.cpu.perOpList(raw.rate))
	return []Row{rate, p99, cpu}, nil
}

// probeFor is how long uncappedSources loads the api at each count.
const probeFor = 2 * time.Second

// uncappedSources returns how many source addresses the api needs so that
// the per-IP limit does not cap it: it loads the api with cfg, which also
// warms it up, and doubles cfg.Sources while loadgen sends close to what
// they may (capped), up to the bench's bound. The sources are first sized
// from the raw ceiling, which the api may well exceed: with fsync on
// every write it groups concurrent requests into one message
// (INGEST_LINGER), the raw ceilings do not.
func (b *Bench) uncappedSources(ctx context.Context, cfg loadgen.Config) (int, error) {
	for {
		res, err := b.load(ctx, cfg)
		if err != nil {
			return 0, err
		}
		if !b.capped(res, cfg.Sources) || cfg.Sources >= sourcesBound {
			return cfg.Sources, nil
		}
		b.say("  %d source addresses capped the api at %.0f requests/s; doubling them", cfg.Sources, res.RequestsPerSec())
		cfg.Sources = b.sourcesFor(2 * float64(cfg.Sources) * b.cfg.sourceRate())
	}
}

// capped reports whether a load's sources, not the server, limited it:
// loadgen sent at least 70% of the most that many sources may send.
func (b *Bench) capped(res *loadgen.Result, sources int) bool {
	return res.RequestsPerSec() >= 0.7*float64(sources)*b.cfg.sourceRate()
}

// cappedNote warns, in a row's note, that the per-IP limit of the sources
// may have capped the measured phase.
func (b *Bench) cappedNote(res *loadgen.Result, sources int) string {
	if !b.capped(res, sources) {
		return ""
	}
	return fmt.Sprintf(" Loadgen sent %.0f requests/s, close to the most its %d sources may send: the figure may be a floor.",
		res.RequestsPerSec(), sources)
}

// ingestTarget gives an ingest row its target when natsd fsyncs every
// write; at another setting the row has none, and its note says why.
func (b *Bench) ingestTarget(r *Row, cmp string, target float64) {
	if b.step.sync == syncAlways {
		r.hold("ours", cmp, target)
		return
	}
	r.Note += " No target at this setting: it is held against earlier runs at the same setting (no row worse), " +
		"best by its ratio to the raw ceiling of the same run."
}

// syncNote says what a 200 means at fsync setting sync, for the notes.
func syncNote(sync string) string {
	if sync == syncAlways {
		return "natsd fsyncs every write (sync_interval always): a PubAck, so a 200, means the events are on disk."
	}
	every := sync
	if sync == syncDefault {
		every += ", nats-server's default sync_interval"
	}
	return "natsd fsyncs in the background (every " + every + "): a PubAck, so a 200, means the events are in nats-server's " +
		"memory, on disk within " + sync + "."
}

// rawPublisher prepares a raw publisher of batch messages of 100 events
// of one kind, as the api publishes a request of 100 events, with a fresh
// BENCH_RAW stream.
func (b *Bench) rawPublisher(ctx context.Context) (*rawPublisher, error) {
	events, _, err := makeStoredEvents(b.cfg, b.stack.app.AppID, rawPoolSize)
	if err != nil {
		return nil, err
	}
	return newRawPublisher(ctx, b.stack.natsURL, b.stack.app.AppID, batchMessages(events, 100))
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
	peak, current, err := b.stack.apiMemory()
	if err != nil {
		return nil, err
	}
	mb := float64(peak) / (1 << 20)
	row := limitRow(rowAPIMemory, "MB", mb, math.NaN(), 150)
	row.Note = fmt.Sprintf("the highest VmHWM of the api processes over the whole run (the api is restarted with natsd at each fsync "+
		"setting), with up to %d keep-alive connections open (one per source address, as many clients); VmRSS of the api now (pid %d) %.0f MB.",
		b.maxSources, b.stack.api.pid(), float64(current)/(1<<20))
	return []Row{row}, nil
}

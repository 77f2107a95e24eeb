// Package benchrun is what `make bench` runs: it starts a private gamepipe
// stack (the pinned nats-server on a free port with its own store, a fresh
// database, the api and worker built into bin/), runs each scenario of
// issue 6 for BENCH_SECONDS together with its raw ceiling measured in the
// same run, prints one table and writes bench/out/latest.json and
// latest.md. See bench/README.md.
//
// A scenario is one function (ctx, *Bench) → rows, listed in Scenarios.
// The ingest scenarios run once per natsd fsync setting (BENCH_SYNC), natsd
// and the api restarted between them; the others run at the last setting.
package benchrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gamepipe/gamepipe/internal/loadgen"
)

// Scenario measures one or more rows of the table.
type Scenario struct {
	// Name is a short id, used for profile file names.
	Name string
	// Rows are the names of the rows it measures, for the rows written
	// when it fails.
	Rows []string
	// Run measures the rows. It may use what earlier scenarios left in the
	// Bench (the max ingest rate, the worker running).
	Run func(ctx context.Context, b *Bench) ([]Row, error)
	// PerSync makes the scenario run once at each natsd fsync setting of
	// BENCH_SYNC, before the scenarios that run once, its rows named with
	// the setting (syncName).
	PerSync bool
}

// step is one scenario run of a bench: the scenario and the natsd fsync
// setting it runs at.
type step struct {
	sc   Scenario
	sync string
}

// plan is the order the scenarios to run run in: the per-setting ones at
// each setting in turn, then the others at the last setting, so that a
// run switches natsd's setting at most once per setting.
func (c *Config) plan(scenarios []Scenario) []step {
	var out []step
	for _, sync := range c.Syncs {
		for _, sc := range scenarios {
			if sc.PerSync && c.runs(sc.Name) {
				out = append(out, step{sc: sc, sync: sync})
			}
		}
	}
	last := c.Syncs[len(c.Syncs)-1]
	for _, sc := range scenarios {
		if !sc.PerSync && c.runs(sc.Name) {
			out = append(out, step{sc: sc, sync: last})
		}
	}
	return out
}

// name is a row's name in this step: with the setting for a per-setting
// scenario, as is otherwise.
func (st step) name(row string) string {
	if !st.sc.PerSync {
		return row
	}
	return syncName(row, st.sync)
}

// id is the scenario's id in this step, for messages and profile file
// names: "ingest-batch@always" for a per-setting scenario.
func (st step) id() string {
	if !st.sc.PerSync {
		return st.sc.Name
	}
	return st.sc.Name + "@" + st.sync
}

// syncName names a row measured at one of several fsync settings:
// "ingest, batches of 100 @always".
func syncName(row, sync string) string { return row + " @" + sync }

// Bench is one run's shared state, handed to every scenario in turn.
type Bench struct {
	cfg      *Config
	stack    *stack
	out      io.Writer
	terminal bool
	// step is the scenario running and its fsync setting.
	step step

	// ingestEventsPerSec is gamepipe's events/s with batches of 100 at the
	// latest fsync setting: the sustained rate, which runs at the last
	// setting, is given as a fraction of it.
	ingestEventsPerSec float64
	// maxSources is the most source addresses (so keep-alive connections
	// to the api) a load of the api used, for the api memory row.
	maxSources int
}

// Scenarios lists the scenarios in the order they run, which is also the
// order of the table.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "ingest-batch", Rows: []string{rowIngestBatch, rowIngestBatchCPU}, Run: runIngestBatch, PerSync: true},
		{Name: "ingest-single", Rows: []string{rowIngestSingle, rowIngestSingleP99, rowIngestSingleCPU}, Run: runIngestSingle, PerSync: true},
		{Name: "sink", Rows: []string{rowSink}, Run: runSink},
		{Name: "sustained", Rows: []string{rowSustained, rowSustainedCPU}, Run: runSustained},
		{Name: "emote-jobs", Rows: []string{rowEmoteJobs, rowEmoteJobsTuned, rowEmotePostgres}, Run: runEmoteJobs},
		{Name: "emotes-in-flight", Rows: []string{rowEmotesInFlight, rowEmotesInFlightRSS}, Run: runEmotesInFlight},
		{Name: "webhook-callbacks", Rows: []string{rowWebhookCallbacks}, Run: runWebhookCallbacks},
		{Name: "api-memory", Rows: []string{rowAPIMemory}, Run: runAPIMemory},
	}
}

// Run runs every scenario against a private stack, prints the table to
// out and writes it under cfg.OutDir. Scenarios that fail leave a row
// saying so; the others still run.
func Run(ctx context.Context, cfg *Config, out io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	report := &Report{Started: time.Now(), Seconds: cfg.Seconds}
	apiBin, workerBin := filepath.Join(cfg.BinDir, "api"), filepath.Join(cfg.BinDir, "worker")
	if cfg.Profile {
		if err := os.RemoveAll(filepath.Join(cfg.OutDir, "profiles")); err != nil {
			return fmt.Errorf("error clearing old profiles: %w", err)
		}
		var err error
		if apiBin, workerBin, err = buildProfiling(ctx, cfg, filepath.Join(cfg.BinDir, "bench-pprof"), out); err != nil {
			return err
		}
	}
	steps := cfg.plan(Scenarios())
	if len(steps) == 0 {
		return errors.New("BENCH_ONLY: no scenario to run")
	}
	s, err := startStack(ctx, cfg, apiBin, workerBin, steps[0].sync, out)
	if err != nil {
		return err
	}
	defer s.close()
	report.Machine = machine(s.natsVersion, s.pgVersion)
	fmt.Fprintf(out, "bench: %s; %d s per scenario\n", report.Machine, cfg.Seconds)

	b := &Bench{cfg: cfg, stack: s, out: out, terminal: loadgen.IsTerminal(out)}
	var stackErr error
	for _, st := range steps {
		if ctx.Err() != nil {
			break
		}
		if stackErr = s.useSync(ctx, st.sync); stackErr != nil {
			fmt.Fprintf(out, "bench: natsd at fsync %s: %v\n", st.sync, stackErr)
			break
		}
		b.step = st
		rows, err := st.sc.Run(ctx, b)
		if err == nil {
			err = s.alive()
		}
		if err != nil {
			fmt.Fprintf(out, "bench: %s failed: %v\n", st.id(), err)
			rows = rows[:0]
			for _, name := range st.sc.Rows {
				rows = append(rows, Row{Scenario: name, Note: "failed: " + err.Error()})
			}
		}
		for i := range rows {
			rows[i].Scenario, rows[i].Sync = st.name(rows[i].Scenario), st.sync
			fmt.Fprintf(out, "bench: %s\n", rows[i])
		}
		report.Rows = append(report.Rows, rows...)
		if errors.Is(err, context.Canceled) || s.alive() != nil {
			break
		}
	}

	fmt.Fprintf(out, "\n%s, %d s per scenario\n\n", report.Machine, cfg.Seconds)
	report.WriteTable(out)
	if err := report.WriteFiles(cfg.OutDir); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwrote %s and %s (logs in %s)\n", filepath.Join(cfg.OutDir, "latest.json"),
		filepath.Join(cfg.OutDir, "latest.md"), s.logDir)
	if stackErr != nil {
		return stackErr
	}
	return ctx.Err()
}

// say prints one line about the run.
func (b *Bench) say(format string, args ...any) {
	fmt.Fprintf(b.out, "bench: "+format+"\n", args...)
}

// load runs loadgen against the api with the bench app, the mix, and
// progress on the output.
func (b *Bench) load(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	return b.loadAt(ctx, b.stack.apiURL, cfg)
}

// loadAt is load against the server at url (the api, or the minimal
// ingest server).
func (b *Bench) loadAt(ctx context.Context, url string, cfg loadgen.Config) (*loadgen.Result, error) {
	cfg.URL = url
	cfg.Token = b.stack.app.PublicToken
	cfg.Generator.AppID = b.stack.app.AppID
	cfg.Generator.Mix = b.cfg.Mix
	cfg.SourceRate = b.cfg.sourceRate()
	if url == b.stack.apiURL {
		b.maxSources = max(b.maxSources, cfg.Sources)
	}
	prog := loadgen.NewProgress(b.out, b.terminal)
	cfg.Progress = prog.Update
	res, err := loadgen.Run(ctx, &cfg)
	prog.Done()
	if err != nil {
		return nil, err
	}
	if res.Accepted == 0 {
		return nil, fmt.Errorf("no request accepted: %s", resultLine(res))
	}
	return res, nil
}

// profile starts profiling the running scenario's measured phase when
// profiling is on (the first round only), its files named by the step's id;
// wait for the returned profiler after the phase with waitProfiles.
func (b *Bench) profile(ctx context.Context, round int, targets map[string]string) *profiler {
	if !b.cfg.Profile || round > 0 {
		return nil
	}
	return startProfiles(ctx, b.cfg.OutDir, b.step.id(), b.cfg.duration()+warmup, targets)
}

// waitProfiles waits for a phase's profiles, reporting a failure to save
// them without failing the scenario.
func (b *Bench) waitProfiles(p *profiler) {
	if err := p.wait(); err != nil {
		b.say("%v", err)
	}
}

// sourcesBound is the most source addresses, so keep-alive connections,
// the bench opens to one server: what one machine's API can hold open.
const sourcesBound = 4000

// sourcesFor is how many source addresses loadgen needs so that the
// per-IP limit never caps it below reqPerSec, bounded to sourcesBound.
func (b *Bench) sourcesFor(reqPerSec float64) int {
	return min(max(loadgen.SourcesFor(reqPerSec, b.cfg.sourceRate()), 8), sourcesBound)
}

// resultLine summarises a load result in one line for a row's note.
func resultLine(r *loadgen.Result) string {
	return fmt.Sprintf("%d requests in %.1fs, answers:%s", r.Requests, r.Elapsed.Seconds(), answers(r.Statuses, r.Errors))
}

// answers lists status codes and transport errors by count: " 98×200 2×429".
func answers(statuses map[int]int64, errs map[string]int64) string {
	var st string
	for code, n := range statuses {
		st += fmt.Sprintf(" %d×%d", n, code)
	}
	for e, n := range errs {
		st += fmt.Sprintf(" %d×%s", n, e)
	}
	return st
}

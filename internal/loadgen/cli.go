package loadgen

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/demoapp"
)

// autoSources is how many source addresses an open-throttle run against
// a loopback API uses unless told: 500 × 9 requests/s is far above what
// one machine's API answers with single events.
const autoSources = 500

const usage = `loadgen sends realistic telemetry to a running gamepipe API and reports
requests/s, events/s, latency percentiles and status counts. With --mode
emotes or --mode generations it drives the job APIs instead (secret key):
creates/s accepted, completions/s, latency to completion and final statuses.

  loadgen [flags]

Credentials come from --token and --app, or else from DATA_DIR/demo-app.json,
which make run writes (DATA_DIR defaults to ./data).

The API limits each source IP to RATE_LIMIT_RPS requests/s (10 by default).
Against a loopback URL, loadgen binds each connection to its own address of
--source-net, so it can send up to --sources × --source-rate requests/s with
the limit in force, as many real clients would.

Flags:
`

// Main is cmd/loadgen: it parses args, runs, prints progress on stderr
// and the summary on stdout.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		cfg        Config
		app        string
		mix        = fs.String("mix", DefaultMix.String(), "share of each event kind, as kind=weight pairs")
		points     = fs.String("points", "50-500", "points per trajectory, min-max (3 numbers each)")
		customKeys = fs.String("custom-keys", "2-5", "keys per custom_data, min-max")
		sourceNet  = fs.String("source-net", DefaultSourceNet.String(), "IPv4 prefix the source addresses come from")
		progress   = fs.Bool("progress", true, "print progress on stderr every second")
		asJSON     = fs.Bool("json", false, "print the summary as JSON")
		mode       = fs.String("mode", "events", "what to send: events (telemetry), emotes or generations (job APIs, secret key)")
		jobs       JobConfig
	)
	fs.StringVar(&jobs.SecretKey, "secret-key", "", "job modes: the app's secret key (default: DATA_DIR/demo-app.json)")
	fs.BoolVar(&jobs.Track, "track", true, "job modes: poll every accepted job until it ends (completions, latency to completion)")
	fs.DurationVar(&jobs.PollEvery, "poll-every", 500*time.Millisecond, "job modes: time between two polls of a job")
	fs.DurationVar(&jobs.Drain, "drain", 2*time.Minute, "job modes: how long to keep tracking after the last create")
	fs.IntVar(&jobs.ImageSize, "image-size", 128, "generations: width and height of the image asked for")
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:4000", "the API's base URL")
	fs.StringVar(&cfg.Path, "path", "/api/events", "the route to post to")
	fs.StringVar(&cfg.Token, "token", "", "the app's public token (default: DATA_DIR/demo-app.json)")
	fs.StringVar(&app, "app", "", "the app id the events carry (default: DATA_DIR/demo-app.json)")
	fs.IntVar(&cfg.BatchSize, "batch", 100, "events per request; 1 sends single events (a map)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "requests in flight at most")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to send after the warmup (default 10s unless --requests)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "stop after this many requests")
	fs.Float64Var(&cfg.Rate, "rate", 0, "target requests/s over all sources; 0 is open throttle")
	fs.IntVar(&cfg.Sources, "sources", -1, fmt.Sprintf("source addresses; 0 does not bind (remote API); default: enough for --rate, or %d, on a loopback URL", autoSources))
	fs.Float64Var(&cfg.SourceRate, "source-rate", DefaultSourceRate, "requests/s sent from each source address (keep it under the API's RATE_LIMIT_RPS)")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "sent first and not counted")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per request")
	fs.IntVar(&cfg.Generator.Players, "players", 1000, "distinct players the events come from")
	fs.Uint64Var(&cfg.Generator.Seed, "seed", 0, "seed for the generated events (0: random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	var err error
	if *mode != "events" {
		if *mode != ModeEmotes && *mode != ModeGenerations {
			return fmt.Errorf("--mode: %q is not events, emotes or generations", *mode)
		}
		if jobs.SourceNet, err = netip.ParsePrefix(*sourceNet); err != nil {
			return fmt.Errorf("--source-net: %w", err)
		}
		jobs.Mode, jobs.URL, jobs.Concurrency, jobs.Duration, jobs.Requests = *mode, cfg.URL, cfg.Concurrency, cfg.Duration, cfg.Requests
		jobs.Rate, jobs.Sources, jobs.SourceRate, jobs.Warmup, jobs.Timeout = cfg.Rate, cfg.Sources, cfg.SourceRate, cfg.Warmup, cfg.Timeout
		return mainJobs(ctx, &jobs, getenv, *progress, *asJSON, stdout, stderr)
	}
	if cfg.Generator.Mix, err = ParseMix(*mix); err != nil {
		return err
	}
	if cfg.Generator.MinPoints, cfg.Generator.MaxPoints, err = parseRange(*points); err != nil {
		return fmt.Errorf("--points: %w", err)
	}
	if cfg.Generator.MinCustomKeys, cfg.Generator.MaxCustomKeys, err = parseRange(*customKeys); err != nil {
		return fmt.Errorf("--custom-keys: %w", err)
	}
	if cfg.SourceNet, err = netip.ParsePrefix(*sourceNet); err != nil {
		return fmt.Errorf("--source-net: %w", err)
	}
	if cfg.Token == "" || app == "" {
		dataDir := cmp.Or(getenv("DATA_DIR"), config.DefaultDataDir)
		demo, err := demoapp.Load(dataDir)
		if err != nil {
			return fmt.Errorf("no --token/--app given, and no demo app to fall back on (run make run once): %w", err)
		}
		cfg.Token = cmp.Or(cfg.Token, demo.PublicToken)
		app = cmp.Or(app, demo.AppID)
	}
	cfg.Generator.AppID = app
	if cfg.Sources < 0 {
		cfg.Sources = autoSourcesFor(cfg.URL, cfg.Rate, cfg.SourceRate)
	}

	var prog *Progress
	if *progress {
		prog = NewProgress(stderr, IsTerminal(stderr))
		cfg.Progress = prog.Update
	}
	fmt.Fprintf(stderr, "loadgen: %s, batch %d, concurrency %d, %s, mix %s\n",
		cfg.URL+cfg.Path, cfg.BatchSize, cfg.Concurrency, describeRate(&cfg), cfg.Generator.Mix)
	res, err := Run(ctx, &cfg)
	if prog != nil {
		prog.Done()
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Summary())
	}
	res.WriteSummary(stdout)
	if res.Requests == 0 {
		return errors.New("no request was answered")
	}
	return nil
}

// mainJobs runs --mode emotes or generations.
func mainJobs(ctx context.Context, cfg *JobConfig, getenv func(string) string, progress, asJSON bool, stdout, stderr io.Writer) error {
	if cfg.SecretKey == "" {
		dataDir := cmp.Or(getenv("DATA_DIR"), config.DefaultDataDir)
		demo, err := demoapp.Load(dataDir)
		if err != nil {
			return fmt.Errorf("no --secret-key given, and no demo app to fall back on (run make run once): %w", err)
		}
		cfg.SecretKey = demo.SecretKey
	}
	if cfg.Sources < 0 {
		cfg.Sources = autoSourcesFor(cfg.URL, cfg.Rate, cfg.SourceRate)
		if cfg.Rate == 0 && cfg.Sources > 0 {
			cfg.Sources = 64 // jobs are heavier than events: 64 × 9 creates/s is plenty
		}
	}
	if progress {
		p := NewProgress(stderr, IsTerminal(stderr))
		cfg.Progress = p.UpdateJobs
		defer p.Done()
	}
	fmt.Fprintf(stderr, "loadgen: %s %s, concurrency %d, %s, track %v\n", cfg.Mode, cfg.URL, cfg.Concurrency,
		describeRate(&Config{Rate: cfg.Rate, Sources: cfg.Sources, SourceRate: cfg.SourceRate}), cfg.Track)
	res, err := RunJobs(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Summary())
	}
	res.WriteSummary(stdout)
	if res.Requests == 0 {
		return errors.New("no request was answered")
	}
	return nil
}

// autoSourcesFor picks the source count for a URL: none for a remote host
// (loopback sources cannot reach it), else enough for the rate with 10%
// to spare, or autoSources for an open throttle.
func autoSourcesFor(rawURL string, rate, perSource float64) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	host := u.Hostname()
	ip, err := netip.ParseAddr(host)
	if host == "localhost" {
		ip, err = netip.MustParseAddr("127.0.0.1"), nil
	}
	if err != nil || !ip.IsLoopback() || !ip.Is4() {
		return 0
	}
	if rate > 0 {
		return SourcesFor(rate*1.1, perSource)
	}
	return autoSources
}

func describeRate(c *Config) string {
	limit := "open throttle"
	if c.Rate > 0 {
		limit = fmt.Sprintf("target %g req/s", c.Rate)
	}
	if c.Sources == 0 {
		return limit + ", no source binding"
	}
	return fmt.Sprintf("%s, %d source addresses × %g req/s = at most %s req/s", limit, c.Sources, c.SourceRate,
		count(int64(float64(c.Sources)*c.SourceRate)))
}

// parseRange reads "min-max" or a single number.
func parseRange(s string) (lo, hi int, err error) {
	a, b, found := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("%q is not min-max", s)
	}
	hi = lo
	if found {
		if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("%q is not min-max", s)
		}
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("%q: max is below min", s)
	}
	return lo, hi, nil
}

// Summary is a Result in a form fit for JSON.
type Summary struct {
	ElapsedSeconds float64            `json:"elapsed_seconds"`
	Requests       int64              `json:"requests"`
	Accepted       int64              `json:"accepted"`
	Events         int64              `json:"events"`
	RequestsPerSec float64            `json:"requests_per_sec"`
	EventsPerSec   float64            `json:"events_per_sec"`
	LatencyMS      map[string]float64 `json:"latency_ms"`
	Statuses       map[string]int64   `json:"statuses"`
	Errors         map[string]int64   `json:"errors,omitempty"`
}

// Summary returns the result's headline figures.
func (r *Result) Summary() *Summary {
	s := &Summary{
		ElapsedSeconds: r.Elapsed.Seconds(), Requests: r.Requests, Accepted: r.Accepted, Events: r.Events,
		RequestsPerSec: r.RequestsPerSec(), EventsPerSec: r.EventsPerSec(),
		LatencyMS: map[string]float64{}, Statuses: map[string]int64{}, Errors: r.Errors,
	}
	for name, q := range map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99} {
		s.LatencyMS[name] = float64(r.Latency.Quantile(q)) / 1e6
	}
	s.LatencyMS["max"] = float64(r.Latency.Max()) / 1e6
	for code, n := range r.Statuses {
		s.Statuses[strconv.Itoa(code)] = n
	}
	return s
}

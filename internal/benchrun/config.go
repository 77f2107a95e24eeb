package benchrun

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/loadgen"
)

// Config is what a bench run uses. ConfigFromEnv builds it from the
// environment that `make bench` passes on.
type Config struct {
	// Seconds is how long each scenario (and each raw ceiling) is measured
	// (BENCH_SECONDS). Defaults to 10.
	Seconds int
	// OutDir receives latest.json, latest.md, the processes' logs and any
	// profiles (BENCH_OUT). Defaults to bench/out.
	OutDir string
	// BinDir holds api, worker, natsd and gamepipe as `make build` writes
	// them (BENCH_BIN_DIR). Defaults to ./bin.
	BinDir string
	// AdminURL connects to Postgres to drop and create the bench database
	// (PG_ADMIN_URL). Defaults to postgres://postgres@127.0.0.1:5432/postgres.
	AdminURL string
	// DBName is the database the bench creates afresh each run
	// (BENCH_DB). Defaults to gamepipe_bench.
	DBName string
	// BatchConcurrency and SingleConcurrency are the requests in flight
	// for the batch and single-event scenarios, and the publishing
	// goroutines of the single-event raw ceiling
	// (BENCH_BATCH_CONCURRENCY, BENCH_SINGLE_CONCURRENCY). Default to 16
	// and 32.
	BatchConcurrency, SingleConcurrency int
	// Mix is the event mix (BENCH_MIX). Defaults to loadgen.DefaultMix.
	Mix loadgen.Mix
	// RateLimit is the API's per-IP limit, RATE_LIMIT_RPS as the api will
	// read it (default 10); loadgen sends 90% of it from each source.
	RateLimit float64
	// SinkBatchMax is the worker's SINK_BATCH_MAX (default 1000); the raw
	// COPY ceiling commits batches of the same size.
	SinkBatchMax int
	// Rounds is how many times the ingest scenarios alternate their raw
	// and gamepipe phases, keeping the best of each (BENCH_ROUNDS).
	// Defaults to 1; 3 gives steadier ratios on a busy machine.
	Rounds int
	// SustainSeconds is how long each offered rate of the sustained-rate
	// search is held (BENCH_SUSTAIN_SECONDS). Defaults to 60; shorter for
	// a smoke run.
	SustainSeconds int
	// SustainSteps is how many offered rates the sustained-rate search
	// tries (BENCH_SUSTAIN_STEPS). Defaults to 5.
	SustainSteps int
	// Only, when set, names the scenarios to run (BENCH_ONLY, comma
	// separated: ingest-batch, ingest-single, sink, sustained, api-memory,
	// ...); the others are left out of the table.
	Only []string
	// Syncs are the natsd fsync settings the per-setting scenarios
	// (Scenario.PerSync: the ingest rows) run at, one after another, each
	// "always" or a duration such as 2m (BENCH_SYNC: "always", "2m", a
	// comma-separated list of them, or "both" for 2m then always, the
	// default). The other scenarios run at the last one.
	Syncs []string
	// Profile builds the api and worker with net/http/pprof and saves CPU,
	// allocation and mutex profiles of each scenario (BENCH_PROFILE=1).
	Profile bool
	// GoCmd is the go command, for the profiling build (GO). Defaults to go.
	GoCmd string
	// Env is the environment the children start from.
	Env []string
}

// ConfigFromEnv reads the configuration; environ is passed on to the
// children, with the bench's own settings on top.
func ConfigFromEnv(getenv func(string) string, environ []string) (*Config, error) {
	var errs []error
	intVar := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive integer", name, v))
		}
		return n
	}
	cfg := &Config{
		Seconds:           intVar("BENCH_SECONDS", 10),
		OutDir:            cmp.Or(getenv("BENCH_OUT"), "bench/out"),
		BinDir:            cmp.Or(getenv("BENCH_BIN_DIR"), "./bin"),
		AdminURL:          cmp.Or(getenv("PG_ADMIN_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		DBName:            cmp.Or(getenv("BENCH_DB"), "gamepipe_bench"),
		BatchConcurrency:  intVar("BENCH_BATCH_CONCURRENCY", 16),
		SingleConcurrency: intVar("BENCH_SINGLE_CONCURRENCY", 32),
		SinkBatchMax:      intVar("SINK_BATCH_MAX", 1000),
		Rounds:            intVar("BENCH_ROUNDS", 1),
		SustainSeconds:    intVar("BENCH_SUSTAIN_SECONDS", 60),
		SustainSteps:      intVar("BENCH_SUSTAIN_STEPS", 5),
		GoCmd:             cmp.Or(getenv("GO"), "go"),
		Env:               environ,
		RateLimit:         10,
	}
	if v := getenv("RATE_LIMIT_RPS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Errorf("RATE_LIMIT_RPS: %q is not a positive number", v))
		}
		cfg.RateLimit = f
	}
	if v := getenv("BENCH_MIX"); v != "" {
		m, err := loadgen.ParseMix(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("BENCH_MIX: %w", err))
		}
		cfg.Mix = m
	}
	if v := getenv("BENCH_ONLY"); v != "" {
		known := map[string]bool{}
		for _, sc := range Scenarios() {
			known[sc.Name] = true
		}
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if !known[name] {
				errs = append(errs, fmt.Errorf("BENCH_ONLY: unknown scenario %q", name))
			}
			cfg.Only = append(cfg.Only, name)
		}
	}
	syncs, err := parseSyncs(getenv("BENCH_SYNC"))
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Syncs = syncs
	switch getenv("BENCH_PROFILE") {
	case "", "0", "false":
	default:
		cfg.Profile = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, cfg.validate()
}

func (c *Config) validate() error {
	if c.Seconds < 1 || c.Seconds > 3600 {
		return fmt.Errorf("BENCH_SECONDS: %d is not between 1 and 3600", c.Seconds)
	}
	u, err := url.Parse(c.AdminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("PG_ADMIN_URL: %q is not a postgres URL", c.AdminURL)
	}
	if c.Rounds < 1 || c.Rounds > 20 {
		return fmt.Errorf("BENCH_ROUNDS: %d is not between 1 and 20", c.Rounds)
	}
	if c.SustainSeconds < 1 || c.SustainSeconds > 3600 {
		return fmt.Errorf("BENCH_SUSTAIN_SECONDS: %d is not between 1 and 3600", c.SustainSeconds)
	}
	if c.SustainSteps < 1 || c.SustainSteps > 20 {
		return fmt.Errorf("BENCH_SUSTAIN_STEPS: %d is not between 1 and 20", c.SustainSteps)
	}
	if !validIdent(c.DBName) {
		return fmt.Errorf("BENCH_DB: %q must be lower-case letters, digits and _", c.DBName)
	}
	if c.Mix == nil {
		c.Mix = loadgen.DefaultMix
	}
	if len(c.Syncs) == 0 {
		c.Syncs, _ = parseSyncs("")
	}
	return nil
}

// The natsd fsync settings BENCH_SYNC names.
const (
	// syncAlways fsyncs every write: a PubAck, so a 200, means the events
	// are on disk. natsd's default, and the setting the targets of the
	// ingest rows apply to.
	syncAlways = "always"
	// syncDefault is nats-server's own default sync_interval: a background
	// fsync every 2 minutes.
	syncDefault = "2m"
)

// parseSyncs reads BENCH_SYNC: empty or "both" for 2m then always, else a
// comma-separated list of settings, each "always" or a positive duration,
// none twice.
func parseSyncs(v string) ([]string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" || v == "both" {
		return []string{syncDefault, syncAlways}, nil
	}
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		s = strings.TrimSpace(s)
		if s != syncAlways {
			if d, err := time.ParseDuration(s); err != nil || d <= 0 {
				return nil, fmt.Errorf(`BENCH_SYNC: %q is neither "always", "both" nor a positive duration such as 2m`, s)
			}
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("BENCH_SYNC: %q is named twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// runs reports whether scenario name is to run.
func (c *Config) runs(name string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, name)
}

// duration is Seconds as a time.Duration.
func (c *Config) duration() time.Duration { return time.Duration(c.Seconds) * time.Second }

// sourceRate is what loadgen sends from each source address: 90% of the
// API's per-IP limit, leaving room for jitter.
func (c *Config) sourceRate() float64 { return 0.9 * c.RateLimit }

// databaseURL is AdminURL pointed at the bench database.
func (c *Config) databaseURL() string {
	u, _ := url.Parse(c.AdminURL)
	u.Path = "/" + c.DBName
	return u.String()
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

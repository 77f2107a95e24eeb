package loadgen

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"time"
)

// DefaultSourceRate is the requests per second sent from each source
// address: under the API's default limit of 10 per second per IP, with
// room for the jitter between when a request is sent and when the API
// counts it.
const DefaultSourceRate = 9.0

// Config configures one load run. URL, Token and Generator.AppID are
// required.
type Config struct {
	// URL is the API's base URL, such as http://127.0.0.1:4000.
	URL string
	// Path is the route posted to. Defaults to /api/events.
	Path string
	// Token is the app's public token, sent as x-public-token.
	Token string
	// Generator configures the events; its AppID must be the token's app.
	Generator GeneratorConfig
	// BatchSize is the number of events per request; 1 sends a single
	// event (a map, not an array). Defaults to 100.
	BatchSize int
	// Concurrency is the most requests in flight. Defaults to 16.
	Concurrency int
	// Duration is how long requests are sent after Warmup. It defaults to
	// 10s unless Requests is set.
	Duration time.Duration
	// Requests, when positive, stops the run after that many requests
	// (Warmup's included).
	Requests int64
	// Rate is the target for requests per second over all sources; 0 sends
	// as fast as Concurrency and the sources allow (open throttle).
	Rate float64
	// Sources is how many source addresses requests come from, each
	// connection bound to its own (net.Dialer.LocalAddr). The API limits
	// each address to RATE_LIMIT_RPS (10 by default), so the most this run
	// can send is Sources × SourceRate requests per second. 0 does not
	// bind: every request comes from the address the OS picks (use it for
	// a remote API, where loopback sources cannot reach).
	Sources int
	// SourceNet is the IPv4 prefix the source addresses are taken from.
	// Defaults to DefaultSourceNet (127.1.0.0/16).
	SourceNet netip.Prefix
	// SourceRate is the requests per second sent from each source
	// address. Defaults to DefaultSourceRate (9).
	SourceRate float64
	// Warmup is sent first and left out of the results.
	Warmup time.Duration
	// Timeout bounds one request. Defaults to 30s.
	Timeout time.Duration
	// Progress, when set, receives a snapshot of the results so far every
	// ProgressEvery (default 1s), from its own goroutine.
	Progress func(*Result)
	// ProgressEvery is how often Progress is called. Defaults to 1s.
	ProgressEvery time.Duration
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	out.Path = cmp.Or(out.Path, "/api/events")
	out.BatchSize = cmp.Or(out.BatchSize, 100)
	out.Concurrency = cmp.Or(out.Concurrency, 16)
	if out.Duration == 0 && out.Requests == 0 {
		out.Duration = 10 * time.Second
	}
	if !out.SourceNet.IsValid() {
		out.SourceNet = DefaultSourceNet
	}
	out.SourceRate = cmp.Or(out.SourceRate, DefaultSourceRate)
	out.Timeout = cmp.Or(out.Timeout, 30*time.Second)
	out.ProgressEvery = cmp.Or(out.ProgressEvery, time.Second)
	u, err := url.Parse(out.URL)
	switch {
	case out.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return out, fmt.Errorf("loadgen: URL %q is not an http(s) URL", out.URL)
	case out.Token == "":
		return out, errors.New("loadgen: a token is required (--token, or DATA_DIR/demo-app.json from make run)")
	case out.BatchSize < 1:
		return out, errors.New("loadgen: BatchSize must be positive")
	case out.Concurrency < 1:
		return out, errors.New("loadgen: Concurrency must be positive")
	case out.Duration < 0 || out.Requests < 0 || out.Warmup < 0 || out.Timeout < 0:
		return out, errors.New("loadgen: Duration, Requests, Warmup and Timeout must not be negative")
	case out.Rate < 0 || math.IsNaN(out.Rate) || math.IsInf(out.Rate, 0):
		return out, errors.New("loadgen: Rate must be a non-negative number")
	case out.Sources < 0:
		return out, errors.New("loadgen: Sources must not be negative")
	case out.SourceRate <= 0 || math.IsInf(out.SourceRate, 0) || math.IsNaN(out.SourceRate):
		return out, errors.New("loadgen: SourceRate must be positive")
	}
	return out, nil
}

// rate is the requests per second the run aims at, 0 for as fast as it
// can: the lower of Rate and what the sources may send.
func (c *Config) rate() float64 { return cappedRate(c.Rate, c.Sources, c.SourceRate) }

// cappedRate is the rate a run can send: rate (0: open throttle), capped
// at sources × sourceRate when it binds to sources addresses.
func cappedRate(rate float64, sources int, sourceRate float64) float64 {
	if sources > 0 {
		if limit := float64(sources) * sourceRate; rate == 0 || limit < rate {
			rate = limit
		}
	}
	return rate
}

// SourcesFor is how many source addresses a run needs to send rate
// requests per second with each address under perSource requests per
// second, rounded up, and at least one.
func SourcesFor(rate, perSource float64) int {
	if perSource <= 0 {
		perSource = DefaultSourceRate
	}
	return max(1, int(math.Ceil(rate/perSource)))
}

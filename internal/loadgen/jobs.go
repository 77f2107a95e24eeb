package loadgen

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Job modes: what RunJobs creates through the API.
const (
	// ModeEmotes posts emotes (multipart, a small MP4) to /v1/emotes.
	ModeEmotes = "emotes"
	// ModeGenerations posts AI image generations to /v1/generations.
	ModeGenerations = "generations"
)

// DefaultVideo is the emote video RunJobs uploads unless told: an MP4's
// ftyp box and 4 KiB, which the API and the Kinetix simulator sniff as
// mp4.
var DefaultVideo = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{7}, 4096)...)

// JobConfig configures one run that drives the job APIs (emotes or
// generations) with an app's secret key.
type JobConfig struct {
	// Mode is ModeEmotes or ModeGenerations.
	Mode string
	// URL is the API's base URL.
	URL string
	// SecretKey is the app's secret key, sent as x-api-key.
	SecretKey string
	// Concurrency is the most create requests in flight. Defaults to 16.
	Concurrency int
	// Duration is how long creates are sent after Warmup; defaults to 10s
	// unless Requests is set.
	Duration time.Duration
	// Requests, when positive, stops after that many creates (Warmup's
	// included).
	Requests int64
	// Rate is the target creates/s; 0 is open throttle.
	Rate float64
	// Sources, SourceNet and SourceRate are as in Config: creates come from
	// Sources addresses, at most SourceRate each per second. Status polls
	// come from as many other addresses of SourceNet, at the same rate.
	Sources    int
	SourceNet  netip.Prefix
	SourceRate float64
	// Warmup is sent first; its jobs are neither counted nor tracked.
	Warmup time.Duration
	// Timeout bounds one request. Defaults to 30s (uploads included).
	Timeout time.Duration
	// Track polls every accepted job (GET /v1/<mode>/{id}) until it ends,
	// for the completion figures. Without it only the creates are measured.
	Track bool
	// PollEvery is how long a tracked job waits between two polls.
	// Defaults to 500ms.
	PollEvery time.Duration
	// Drain is how long tracking goes on after the last create. Defaults
	// to 2 minutes.
	Drain time.Duration
	// Video is the emote upload. Defaults to DefaultVideo.
	Video []byte
	// ImageSize is a generation's width and height. Defaults to 128 (the
	// smallest the API takes: cheap for the simulator to render).
	ImageSize int
	// Progress, when set, receives a snapshot every ProgressEvery (1s).
	Progress      func(*JobResult)
	ProgressEvery time.Duration
}

func (c *JobConfig) withDefaults() (JobConfig, error) {
	out := *c
	out.Concurrency = cmp.Or(out.Concurrency, 16)
	if out.Duration == 0 && out.Requests == 0 {
		out.Duration = 10 * time.Second
	}
	if !out.SourceNet.IsValid() {
		out.SourceNet = DefaultSourceNet
	}
	out.SourceRate = cmp.Or(out.SourceRate, DefaultSourceRate)
	out.Timeout = cmp.Or(out.Timeout, 30*time.Second)
	out.PollEvery = cmp.Or(out.PollEvery, 500*time.Millisecond)
	out.Drain = cmp.Or(out.Drain, 2*time.Minute)
	out.ImageSize = cmp.Or(out.ImageSize, 128)
	out.ProgressEvery = cmp.Or(out.ProgressEvery, time.Second)
	if out.Video == nil {
		out.Video = DefaultVideo
	}
	u, err := url.Parse(out.URL)
	switch {
	case out.Mode != ModeEmotes && out.Mode != ModeGenerations:
		return out, fmt.Errorf("loadgen: unknown job mode %q (emotes or generations)", out.Mode)
	case out.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return out, fmt.Errorf("loadgen: URL %q is not an http(s) URL", out.URL)
	case out.SecretKey == "":
		return out, errors.New("loadgen: the job modes need the app's secret key (--secret-key, or DATA_DIR/demo-app.json)")
	case out.Concurrency < 1:
		return out, errors.New("loadgen: Concurrency must be positive")
	case out.Duration < 0 || out.Requests < 0 || out.Warmup < 0 || out.Timeout < 0 || out.PollEvery < 0 || out.Drain < 0:
		return out, errors.New("loadgen: durations and Requests must not be negative")
	case out.Rate < 0 || math.IsNaN(out.Rate) || math.IsInf(out.Rate, 0):
		return out, errors.New("loadgen: Rate must be a non-negative number")
	case out.Sources < 0:
		return out, errors.New("loadgen: Sources must not be negative")
	case out.SourceRate <= 0 || math.IsInf(out.SourceRate, 0) || math.IsNaN(out.SourceRate):
		return out, errors.New("loadgen: SourceRate must be positive")
	case out.ImageSize < 128 || out.ImageSize > 2048 || out.ImageSize%8 != 0:
		return out, errors.New("loadgen: ImageSize must be a multiple of 8 from 128 to 2048")
	}
	return out, nil
}

// RunJobs creates emotes or generations through the API as cfg describes
// and, with Track, follows each until it ends. It returns once the create
// phase is over and, with Track, every tracked job has ended or Drain has
// passed (or ctx ends: then with the results so far).
func RunJobs(ctx context.Context, cfg *JobConfig) (*JobResult, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &jobRun{cfg: c, base: strings.TrimSuffix(c.URL, "/")}
	r.res.Statuses, r.res.Errors, r.res.Final = map[int]int64{}, map[string]int64{}, map[string]int64{}
	r.res.Mode = c.Mode
	if c.Track {
		r.pending = make(chan *trackedJob, 1<<18)
	}
	n := max(c.Sources, 1)
	var addrs []netip.Addr
	if c.Sources > 0 {
		if addrs, err = SourceAddrs(c.SourceNet, 2*c.Sources); err != nil {
			return nil, err
		}
	}
	client := func(i int) *http.Client {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if addrs != nil {
			d.LocalAddr = &net.TCPAddr{IP: net.IP(addrs[i].AsSlice())}
		}
		return newClient(d, c.Concurrency/n+2, c.Timeout)
	}
	for i := range n {
		r.creators = append(r.creators, client(i))
		if c.Track {
			r.pollers = append(r.pollers, client(n+i))
		}
	}
	defer func() {
		for _, cl := range append(r.creators, r.pollers...) {
			cl.CloseIdleConnections()
		}
	}()
	return r.run(ctx), nil
}

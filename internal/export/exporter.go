package export

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// FaultPoint names a point of a flush where Config.Fault is called.
type FaultPoint string

// The fault points, in the order a flush passes them.
const (
	// FaultAfterWrite: a file is written and fsynced under its temporary
	// name, not yet linked to its final name.
	FaultAfterWrite FaultPoint = "after_write"
	// FaultAfterLink: the file has its final name, the manifest is not yet
	// updated and no message is acknowledged.
	FaultAfterLink FaultPoint = "after_link"
	// FaultBeforeAck: files and manifests are done, no message of the flush
	// is acknowledged yet.
	FaultBeforeAck FaultPoint = "before_ack"
)

// Config configures an Exporter. The values an operator sets (EXPORT_*:
// MaxFileBytes, MaxAge, MaxBufferedEvents, FetchBatch, AckWait,
// CompleteGrace) have their defaults in internal/config and must be given;
// the zero value of every other field is a usable default.
type Config struct {
	// Dir is the export root, usually DATA_DIR/exports. Required.
	Dir string
	// InstanceID names this exporter in flush replies and logs. Defaults to
	// the host name and a random suffix.
	InstanceID string
	// MaxFileBytes rotates files: a buffer is written as soon as its NDJSON
	// (uncompressed) reaches this size. Required.
	MaxFileBytes int
	// MaxAge is the longest an event waits in a buffer before its file is
	// written. Required.
	MaxAge time.Duration
	// MaxBufferedEvents makes every buffer be written once the exporter
	// holds this many events. Keep it below the consumer's MaxAckPending.
	// Required.
	MaxBufferedEvents int
	// FetchBatch is the most messages asked for in one pull. Required.
	FetchBatch int
	// FetchWait bounds one pull's wait for messages. Defaults to 1s.
	FetchWait time.Duration
	// AckWait is the consumer's AckWait. Buffered messages are sent
	// InProgress every AckWait/3 so none is redelivered while it waits for
	// its file. Required.
	AckWait time.Duration
	// CoalesceWindow is how long a flush request waits for others to share
	// its flush; requests arriving while that flush runs share it too.
	// Defaults to 100ms. It should be at least FlushTrigger's JoinWindow.
	CoalesceWindow time.Duration
	// RequestInterval is the least time between two flushes made on
	// request: a request arriving sooner after the last such flush waits
	// until then (it is never dropped), so however many API copies ask,
	// an exporter flushes on request at most once per RequestInterval.
	// Defaults to 2s.
	RequestInterval time.Duration
	// NakDelay is how soon the messages of a buffer that could not be
	// written are redelivered. Defaults to 5s.
	NakDelay time.Duration
	// CompleteGrace is how long after a day's end (and after the stream has
	// no unacknowledged message stored before that instant) its manifest is
	// marked complete. It must cover clock skew between the API and NATS and
	// the API's publish timeout. Required.
	CompleteGrace time.Duration
	// CompleteInterval is how often recent day manifests are checked for
	// completeness. Defaults to 1 minute.
	CompleteInterval time.Duration
	// ScanDays is how many recent days (by received_at) are cleaned of stale
	// temporary files at start and checked for completeness. Keep it above
	// the stream's MaxAge in days. Defaults to 8.
	ScanDays int
	// Metrics, when set, gets the exporter's collectors.
	Metrics prometheus.Registerer
	// Fault, when set, is called at each FaultPoint; an error makes Run
	// return it at once, leaving every buffered message unacknowledged, as
	// a crash there would. For tests.
	Fault func(FaultPoint) error
}

func (c *Config) withDefaults() Config {
	out := *c
	out.InstanceID = cmp.Or(out.InstanceID, defaultInstanceID())
	out.FetchWait = cmp.Or(out.FetchWait, time.Second)
	out.CoalesceWindow = cmp.Or(out.CoalesceWindow, 100*time.Millisecond)
	out.NakDelay = cmp.Or(out.NakDelay, 5*time.Second)
	out.RequestInterval = cmp.Or(out.RequestInterval, 2*time.Second)
	out.CompleteInterval = cmp.Or(out.CompleteInterval, time.Minute)
	out.ScanDays = cmp.Or(out.ScanDays, 8)
	return out
}

// Validate reports a configuration the exporter refuses.
func (c *Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("export: Dir is required")
	case c.MaxFileBytes < 0 || c.MaxBufferedEvents < 0 || c.FetchBatch < 0 || c.ScanDays < 0:
		return errors.New("export: sizes and counts must not be negative")
	case c.MaxAge < 0 || c.FetchWait < 0 || c.AckWait < 0 || c.CoalesceWindow < 0 ||
		c.RequestInterval < 0 || c.NakDelay < 0 || c.CompleteGrace < 0 || c.CompleteInterval < 0:
		return errors.New("export: durations must not be negative")
	case c.AckWait > 0 && c.AckWait < 30*time.Millisecond:
		return errors.New("export: AckWait must be at least 30ms")
	case c.MaxFileBytes == 0 || c.MaxAge == 0 || c.MaxBufferedEvents == 0 || c.FetchBatch == 0 || c.AckWait == 0 || c.CompleteGrace == 0:
		return errors.New("export: MaxFileBytes, MaxAge, MaxBufferedEvents, FetchBatch, AckWait and CompleteGrace are required")
	}
	return nil
}

func defaultInstanceID() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return cmp.Or(host, "exporter") + "-" + hex.EncodeToString(b[:])
}

// Deps are what an Exporter works with.
type Deps struct {
	// Logger gets the exporter's logs.
	Logger zerolog.Logger
	// Conn carries flush requests and their replies; it is flushed when Run
	// ends so the last acks leave. Use the consumer's connection.
	Conn *nats.Conn
	// Consumer is the durable exporter consumer (eventstream.ConsumerExporter).
	Consumer jetstream.Consumer
	// Stream is TELEMETRY, read to tell when a day is complete.
	Stream jetstream.Stream
}

// Exporter consumes TELEMETRY and writes NDJSON files; see the package doc.
type Exporter struct {
	cfg      Config
	log      zerolog.Logger
	nc       *nats.Conn
	cons     jetstream.Consumer
	stream   jetstream.Stream
	metrics  *exporterMetrics
	requests *requestQueue

	bufs          *buffers
	lastHeartbeat time.Time
	lastComplete  time.Time
	// lastRequested is when the last flush made on request started.
	lastRequested time.Time
	seqs          *seqCache
	items         [][]byte // telemetry.SplitStored's scratch
}

// New validates cfg and builds an Exporter; Run starts it.
func New(cfg *Config, deps *Deps) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Conn == nil || deps.Consumer == nil || deps.Stream == nil {
		return nil, errors.New("export: Conn, Consumer and Stream are required")
	}
	c := cfg.withDefaults()
	m, err := newExporterMetrics(c.Metrics)
	if err != nil {
		return nil, err
	}
	return &Exporter{
		cfg:      c,
		log:      deps.Logger.With().Str("exporter", c.InstanceID).Logger(),
		nc:       deps.Conn,
		cons:     deps.Consumer,
		stream:   deps.Stream,
		metrics:  m,
		requests: newRequestQueue(),
		bufs:     newBuffers(),
		seqs:     newSeqCache(),
	}, nil
}

// ID is the exporter's instance id, as in its flush replies.
func (e *Exporter) ID() string { return e.cfg.InstanceID }

// Run consumes until ctx is cancelled, then writes every buffer, acks, and
// returns nil. It returns early only when it cannot start or when the Fault
// hook stops it. Call it once.
func (e *Exporter) Run(ctx context.Context) error {
	e.removeStaleTemps(time.Now())
	sub, err := e.nc.Subscribe(FlushSubject, e.requests.push)
	if err != nil {
		return fmt.Errorf("error subscribing to %s: %w", FlushSubject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	fetched := make(chan []jetstream.Msg)
	stopFetch, gone := make(chan struct{}), make(chan struct{})
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		e.fetchLoop(stopFetch, gone, fetched)
	}()
	defer func() {
		close(gone)
		<-fetchDone
		_ = e.nc.FlushTimeout(5 * time.Second)
	}()

	e.log.Info().Str("dir", e.cfg.Dir).Msg("export: exporter started")
	e.lastHeartbeat, e.lastComplete = time.Now(), time.Time{}
	ticker := time.NewTicker(e.tickEvery())
	defer ticker.Stop()
	var window <-chan time.Time
	for {
		var err error
		select {
		case msgs := <-fetched:
			err = e.addMessages(msgs)
		case <-e.requests.notify:
			if window == nil {
				wait := max(e.cfg.CoalesceWindow, e.cfg.RequestInterval-time.Since(e.lastRequested))
				window = time.After(wait)
			}
		case <-window:
			window = nil
			err = e.serveRequests()
		case now := <-ticker.C:
			err = e.tick(ctx, now)
		case <-ctx.Done():
			close(stopFetch)
			return e.shutdown(fetched, fetchDone)
		}
		if err != nil {
			return err
		}
	}
}

// shutdown takes what the fetcher still holds, writes every buffer, acks,
// and answers pending flush requests.
func (e *Exporter) shutdown(fetched <-chan []jetstream.Msg, fetchDone <-chan struct{}) error {
	for fetching := true; fetching; {
		select {
		case msgs := <-fetched:
			if err := e.addMessages(msgs); err != nil {
				return err
			}
		case <-fetchDone:
			fetching = false
		}
	}
	sum, err := e.flush(e.bufs.take(nil), reasonShutdown)
	if err != nil {
		return err
	}
	e.reply(e.requests.take(), sum)
	e.log.Info().Int("files", sum.Files).Int("events", sum.Events).Msg("export: exporter stopped")
	return nil
}

// tickEvery is the period of age, heartbeat and completeness checks.
func (e *Exporter) tickEvery() time.Duration {
	d := min(e.cfg.MaxAge/4, e.cfg.AckWait/6, e.cfg.CompleteInterval, time.Second)
	return max(d, 5*time.Millisecond)
}

// tick writes buffers past MaxAge, sends heartbeats and checks days.
func (e *Exporter) tick(ctx context.Context, now time.Time) error {
	old := e.bufs.take(func(b *buffer) bool { return now.Sub(b.since) >= e.cfg.MaxAge })
	if len(old) > 0 {
		if _, err := e.flush(old, reasonAge); err != nil {
			return err
		}
	}
	if now.Sub(e.lastHeartbeat) >= e.cfg.AckWait/3 {
		e.lastHeartbeat = now
		e.bufs.each(func(m jetstream.Msg) { _ = m.InProgress() })
	}
	if now.Sub(e.lastComplete) >= e.cfg.CompleteInterval {
		e.lastComplete = now
		e.completeDays(ctx, now)
	}
	return nil
}

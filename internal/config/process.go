package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// API is cmd/api's configuration.
type API struct {
	Common
	Jobs
	// HTTPAddr is the listen address (HTTP_ADDR), :4000 as in the document.
	HTTPAddr string
	// RateLimit is requests per second per source IP (RATE_LIMIT_RPS).
	RateLimit float64
	// RateBurst is the per-IP burst (RATE_LIMIT_BURST); defaults to RateLimit.
	RateBurst int
	// RateLimitMaxKeys caps tracked source IPs (RATE_LIMIT_MAX_KEYS).
	RateLimitMaxKeys int
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES, comma-separated). Empty: XFF is ignored.
	TrustedProxies []netip.Prefix
	// WebhookRateLimit is requests per second per source IP on the
	// upstream webhook receivers (WEBHOOK_RATE_LIMIT_RPS).
	WebhookRateLimit float64
	// WebhookRateBurst is their per-IP burst (WEBHOOK_RATE_LIMIT_BURST).
	WebhookRateBurst int
	// MetricsAddr serves /metrics, apart from the public HTTPAddr
	// (METRICS_ADDR).
	MetricsAddr string
	// MaxBodyBytes caps a request body after decompression (MAX_BODY_BYTES).
	MaxBodyBytes int64
	// MaxBatch caps events per request (MAX_BATCH_EVENTS).
	MaxBatch int
	// PublishTimeout bounds the wait for JetStream acks (PUBLISH_TIMEOUT).
	PublishTimeout time.Duration
	// Stream configures TELEMETRY (STREAM_MAX_AGE, STREAM_MAX_BYTES,
	// STREAM_DUPLICATES).
	StreamMaxAge     time.Duration
	StreamMaxBytes   int64
	StreamDuplicates time.Duration
	// MemoryLimit is the Go runtime's soft memory limit for the api in
	// bytes (API_MEMORY_LIMIT, e.g. 128MiB; off or 0: none). GOMEMLIMIT,
	// when set, wins.
	MemoryLimit int64
	// AuthStaleMax is how long a known key keeps being accepted from the
	// api's cache while Postgres cannot be asked (AUTH_STALE_MAX).
	AuthStaleMax time.Duration
	// SSEMaxStreamsPerApp caps an app's open generation events streams in
	// one api process (SSE_MAX_STREAMS_PER_APP); past it, 429.
	SSEMaxStreamsPerApp int
	// MaxInflightBodyBytes bounds the memory of ingestion bodies being read
	// across all requests (MAX_INFLIGHT_BODY_BYTES, e.g. 64MiB).
	MaxInflightBodyBytes int64
	// MaxConnections caps the api's open client connections
	// (MAX_CONNECTIONS); more wait in the kernel's accept queue.
	MaxConnections int
	// UploadMinRate is the slowest average rate, in bytes per second, a
	// model or video upload may keep after UploadRateGrace
	// (UPLOAD_MIN_RATE, e.g. 64KiB; off: -1, no floor).
	UploadMinRate int64
	// UploadRateGrace is how long an upload runs before UploadMinRate
	// applies (UPLOAD_RATE_GRACE).
	UploadRateGrace time.Duration
	// DatabaseReadURL is where the dashboard's queries go, e.g. a replica
	// (DATABASE_READ_URL); defaults to DatabaseURL.
	DatabaseReadURL string
	// DashboardQueryTimeout is the statement timeout of a dashboard query
	// (DASHBOARD_QUERY_TIMEOUT).
	DashboardQueryTimeout time.Duration
	// DashboardSessionTTL is how long a dashboard sign-in lasts
	// (DASHBOARD_SESSION_TTL).
	DashboardSessionTTL time.Duration
	// BodyReadTimeout bounds reading one request's body; no variable.
	BodyReadTimeout time.Duration
	// HeaderReadTimeout bounds reading a request's headers (slowloris); no
	// variable.
	HeaderReadTimeout time.Duration
	// RequestTimeout bounds one request's handling; no variable.
	RequestTimeout time.Duration
	// KeyCacheTTL is how long the api caches a key lookup; no variable.
	KeyCacheTTL time.Duration
	// IngestGroup has concurrent requests' events of one app and kind share
	// messages: those arriving while a message of theirs awaits its ack
	// gather into the next (INGEST_LINGER=off turns it off: each request
	// publishes its own).
	IngestGroup bool
	// IngestLinger is how long the first events of an app and kind with
	// no message awaiting its ack wait for other requests' before they are
	// published (INGEST_LINGER; default 0: at once).
	IngestLinger time.Duration
	// IngestMaxMessageBytes caps one published message (INGEST_MAX_MESSAGE_BYTES).
	IngestMaxMessageBytes int64
	// RejectionsFlushInterval is how often the api adds the events it
	// refused per app, day and reason to Postgres for the dashboard
	// (REJECTIONS_FLUSH_INTERVAL); a crash loses at most this much.
	RejectionsFlushInterval time.Duration
}

// APIFromEnv reads and validates the API's configuration.
func APIFromEnv(getenv Getenv) (*API, error) {
	r := &reader{getenv: getenv}
	common := r.common()
	c := &API{
		Common:           common,
		Jobs:             r.jobs(common.DataDir),
		HTTPAddr:         r.addr("HTTP_ADDR", DefaultHTTPAddr),
		RateLimit:        r.positiveFloat("RATE_LIMIT_RPS", 10),
		RateLimitMaxKeys: r.positiveInt("RATE_LIMIT_MAX_KEYS", 100_000),
		MaxBodyBytes:     int64(r.positiveInt("MAX_BODY_BYTES", 1<<20)),
		MaxBatch:         r.positiveInt("MAX_BATCH_EVENTS", 500),
		PublishTimeout:   r.duration("PUBLISH_TIMEOUT", 5*time.Second),
		StreamMaxAge:     r.duration("STREAM_MAX_AGE", 7*24*time.Hour),
		StreamMaxBytes:   r.int64Allow("STREAM_MAX_BYTES", -1),
		StreamDuplicates: r.duration("STREAM_DUPLICATES", 2*time.Minute),
		MemoryLimit:      r.byteSize("API_MEMORY_LIMIT", 128<<20),
		AuthStaleMax:     r.duration("AUTH_STALE_MAX", 10*time.Minute),
	}
	c.SSEMaxStreamsPerApp = r.positiveInt("SSE_MAX_STREAMS_PER_APP", 100)
	c.MaxInflightBodyBytes = r.byteSize("MAX_INFLIGHT_BODY_BYTES", 64<<20)
	// One body of MAX_BODY_BYTES must fit, gzip-encoded (httpapi.MinInflightBodyBytes).
	if c.MaxInflightBodyBytes < 2*c.MaxBodyBytes+48<<10 {
		r.fail("MAX_INFLIGHT_BODY_BYTES", "must be at least twice MAX_BODY_BYTES plus 48KiB", r.getenv("MAX_INFLIGHT_BODY_BYTES"))
	}
	c.MaxConnections = r.positiveInt("MAX_CONNECTIONS", 10_000)
	c.UploadMinRate = r.byteSize("UPLOAD_MIN_RATE", 64<<10)
	if c.UploadMinRate == 0 {
		c.UploadMinRate = -1 // off: httpapi takes 0 for its default
	}
	c.UploadRateGrace = r.duration("UPLOAD_RATE_GRACE", 10*time.Second)
	c.RateBurst = r.positiveInt("RATE_LIMIT_BURST", int(c.RateLimit+0.999))
	c.DatabaseReadURL = r.url("DATABASE_READ_URL", c.DatabaseURL, "postgres", "postgresql")
	c.DashboardQueryTimeout = r.duration("DASHBOARD_QUERY_TIMEOUT", 10*time.Second)
	c.DashboardSessionTTL = r.duration("DASHBOARD_SESSION_TTL", 12*time.Hour)
	switch v := strings.TrimSpace(r.getenv("INGEST_LINGER")); v {
	case "off":
	case "":
		c.IngestGroup = true
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			r.fail("INGEST_LINGER", "must be off, 0 or a positive duration such as 1ms", v)
		}
		c.IngestGroup, c.IngestLinger = true, max(d, 0)
	}
	c.IngestMaxMessageBytes = r.byteSize("INGEST_MAX_MESSAGE_BYTES", 256<<10)
	if c.IngestMaxMessageBytes < 4<<10 {
		r.fail("INGEST_MAX_MESSAGE_BYTES", "must be at least 4KiB", r.getenv("INGEST_MAX_MESSAGE_BYTES"))
	}
	c.RejectionsFlushInterval = r.duration("REJECTIONS_FLUSH_INTERVAL", 5*time.Second)
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES")
	c.WebhookRateLimit = r.positiveFloat("WEBHOOK_RATE_LIMIT_RPS", 100)
	c.MetricsAddr = r.addr("METRICS_ADDR", "127.0.0.1:4003")
	c.WebhookRateBurst = r.positiveInt("WEBHOOK_RATE_LIMIT_BURST", max(200, int(c.WebhookRateLimit+0.999)))
	// The full-stream policy: only "new" is valid, as "old" would drop
	// acknowledged, unconsumed events; so it is checked, not kept.
	r.oneOf("STREAM_DISCARD", "new", "new")
	c.BodyReadTimeout, c.HeaderReadTimeout, c.RequestTimeout = 10*time.Second, 5*time.Second, 15*time.Second
	c.KeyCacheTTL = 30 * time.Second
	return c, r.err()
}

// Worker is cmd/worker's configuration.
type Worker struct {
	Common
	Jobs
	// HTTPAddr serves /healthz, /readyz and /metrics (WORKER_HTTP_ADDR).
	HTTPAddr string
	// SinkBatchMax is the most messages per sink commit (SINK_BATCH_MAX).
	SinkBatchMax int
	// SinkConcurrency is how many sink loops share the consumer
	// (SINK_CONCURRENCY): while one waits for its commit, the others fetch
	// and encode (docs/telemetry.md, "Batches of the sink").
	SinkConcurrency int
	// AckWait is the sink consumer's AckWait (SINK_ACK_WAIT).
	AckWait time.Duration
	// MaxDeliver bounds deliveries of one message (SINK_MAX_DELIVER).
	MaxDeliver int
	// TelemetryRetention is how long telemetry is kept in Postgres
	// (TELEMETRY_RETENTION, such as 400d or 2160h; off or 0: forever).
	// Older day partitions are dropped by an hourly maintenance job.
	TelemetryRetention time.Duration
}

// WorkerFromEnv reads and validates the worker's configuration.
func WorkerFromEnv(getenv Getenv) (*Worker, error) {
	r := &reader{getenv: getenv}
	common := r.common()
	c := &Worker{
		Common:          common,
		Jobs:            r.jobs(common.DataDir),
		HTTPAddr:        r.addr("WORKER_HTTP_ADDR", "127.0.0.1:4001"),
		SinkBatchMax:    r.positiveInt("SINK_BATCH_MAX", 1000),
		SinkConcurrency: r.positiveInt("SINK_CONCURRENCY", 4),
		AckWait:         r.duration("SINK_ACK_WAIT", 30*time.Second),
		MaxDeliver:      r.positiveInt("SINK_MAX_DELIVER", 5),
	}
	c.TelemetryRetention = r.retention("TELEMETRY_RETENTION")
	return c, r.err()
}

// Exporter is cmd/exporter's configuration.
type Exporter struct {
	Common
	// HTTPAddr serves /healthz, /readyz and /metrics (EXPORTER_HTTP_ADDR).
	HTTPAddr string
	// InstanceID names the exporter in flush replies (EXPORTER_ID); empty:
	// the host name and a random suffix.
	InstanceID string
	// ExportMaxFileBytes rotates files (EXPORT_MAX_FILE_BYTES).
	ExportMaxFileBytes int
	// ExportMaxAge flushes old buffers (EXPORT_MAX_AGE).
	ExportMaxAge time.Duration
	// ExportMaxBufferedEvents flushes everything when reached
	// (EXPORT_MAX_BUFFERED_EVENTS).
	ExportMaxBufferedEvents int
	// ExportFetchBatch is the pull size (EXPORT_FETCH_BATCH).
	ExportFetchBatch int
	// ExportAckWait is the exporter consumer's AckWait (EXPORT_ACK_WAIT).
	ExportAckWait time.Duration
	// ExportCompleteGrace delays marking a day complete
	// (EXPORT_COMPLETE_GRACE).
	ExportCompleteGrace time.Duration
}

// ExporterFromEnv reads and validates the exporter's configuration.
func ExporterFromEnv(getenv Getenv) (*Exporter, error) {
	r := &reader{getenv: getenv}
	c := &Exporter{
		Common:   r.common(),
		HTTPAddr: r.addr("EXPORTER_HTTP_ADDR", "127.0.0.1:4002"),
	}
	c.InstanceID = r.str("EXPORTER_ID", "")
	c.ExportMaxFileBytes = r.positiveInt("EXPORT_MAX_FILE_BYTES", 64<<20)
	c.ExportMaxAge = r.duration("EXPORT_MAX_AGE", time.Minute)
	c.ExportMaxBufferedEvents = r.positiveInt("EXPORT_MAX_BUFFERED_EVENTS", 10000)
	c.ExportFetchBatch = r.positiveInt("EXPORT_FETCH_BATCH", 500)
	c.ExportAckWait = r.duration("EXPORT_ACK_WAIT", 30*time.Second)
	c.ExportCompleteGrace = r.duration("EXPORT_COMPLETE_GRACE", time.Minute)
	return c, r.err()
}

func (r *reader) prefixes(name string) []netip.Prefix {
	v := r.getenv(name)
	out, err := ParsePrefixes(v)
	if err != nil {
		r.fail(name, "must be comma-separated CIDRs or IP addresses", v)
		return nil
	}
	return out
}

// MinTelemetryRetention is the shortest TELEMETRY_RETENTION: the sink keeps
// partitions from yesterday on, so a shorter one would drop what it makes.
const MinTelemetryRetention = 2 * 24 * time.Hour

// retention reads a retention period: days as "400d", a Go duration, or
// "off" (the default) for none.
func (r *reader) retention(name string) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" || v == "off" || v == "0" {
		return 0
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			r.fail(name, "must be a number of days such as 400d, a duration such as 2160h, or off", v)
			return 0
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			r.fail(name, "must be a number of days such as 400d, a duration such as 2160h, or off", v)
			return 0
		}
	}
	if d < MinTelemetryRetention {
		r.fail(name, "must be at least 2d", v)
		return 0
	}
	return d
}

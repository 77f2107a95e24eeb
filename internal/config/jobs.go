package config

import "time"

// Jobs is what the api and the worker read about River and the upstreams.
type Jobs struct {
	// KinetixBaseURL is the Kinetix API (KINETIX_BASE_URL), by default the
	// local simulator.
	KinetixBaseURL string
	// KinetixAPIKey is used for apps without a key of their own
	// (KINETIX_API_KEY).
	KinetixAPIKey string
	// GeneraitivBaseURL is the Generaitiv API (GENERAITIV_BASE_URL), by
	// default the local simulator's /v1/.
	GeneraitivBaseURL string
	// GeneraitivWSURL is its websocket (GENERAITIV_WS_URL); empty derives it
	// from the base URL. With the default base URL it defaults to the local
	// simulator's websocket address, ws://127.0.0.1:4103/.
	GeneraitivWSURL string
	// GeneraitivAPIKey is used for apps without a key of their own
	// (GENERAITIV_API_KEY).
	GeneraitivAPIKey string
	// KinetixGameAPIKey is the x-api-key of POST /v1/plans
	// (KINETIX_GAME_API_KEY), the game's key; empty uses the virtual
	// world's key (the app's own, or KinetixAPIKey).
	KinetixGameAPIKey string
	// PublicBaseURL is where upstream webhooks reach the api
	// (PUBLIC_BASE_URL); empty means no webhooks (websocket instead).
	PublicBaseURL string
	// AppShare bounds each app's share of the queues, rate and storage.
	AppShare

	// JobTimeout bounds one run of a job (JOB_TIMEOUT).
	JobTimeout time.Duration
	// JobMaxAttempts bounds a job's attempts (JOB_MAX_ATTEMPTS).
	JobMaxAttempts int
	// KinetixConcurrency and GeneraitivConcurrency size the queues
	// (KINETIX_CONCURRENCY, GENERAITIV_CONCURRENCY; defaults 40 and 20).
	// River fetches at most a queue's concurrency per fetch, about ten
	// times a second, so they bound job throughput (make bench); the
	// worker's Postgres pool is their sum plus 8.
	KinetixConcurrency    int
	GeneraitivConcurrency int
	// RescueStuckJobsAfter is River's rescue delay (RIVER_RESCUE_AFTER).
	RescueStuckJobsAfter time.Duration
	// FetchPollInterval is River's poll interval (RIVER_POLL_INTERVAL).
	FetchPollInterval time.Duration
	// SoftStopTimeout is how long a stopping worker lets running jobs
	// finish before cancelling them (RIVER_SOFT_STOP_TIMEOUT).
	SoftStopTimeout time.Duration

	// MaxVideoBytes caps an emote's uploaded video (MAX_VIDEO_BYTES).
	MaxVideoBytes int64
	// MaxModelBytes caps an uploaded level model (MAX_MODEL_BYTES).
	MaxModelBytes int64
	// KinetixDeadline is how long a Kinetix process may take before its
	// emote is failed (KINETIX_DEADLINE).
	KinetixDeadline time.Duration

	// GeneraitivDeadline is how long a generation may wait for its
	// completion before it is timed out (GENERAITIV_DEADLINE).
	GeneraitivDeadline time.Duration
	// GeneraitivMaxImageBytes caps a downloaded generated image
	// (GENERAITIV_MAX_IMAGE_BYTES).
	GeneraitivMaxImageBytes int64
	// GeneraitivRateLimit is the most Generaitiv requests per second sent
	// with one key, by every worker process together
	// (GENERAITIV_RATE_LIMIT).
	GeneraitivRateLimit int

	// BlobMinFreeBytes is the free space blob storage leaves on its
	// filesystem (BLOB_MIN_FREE_BYTES, e.g. 1GiB; off or 0: none): an
	// upload or image download that would go below it is refused, 507 for
	// a client, a later retry for a job.
	BlobMinFreeBytes int64

	// Blob is where blobs live (BLOB_URL, or BLOB_STORE).
	Blob Blob
}

// DefaultBlobMinFreeBytes is BLOB_MIN_FREE_BYTES's default: room enough
// for Postgres, logs and a local NATS store to keep working when uploads
// have filled the rest of the disk.
const DefaultBlobMinFreeBytes = 1 << 30

func (r *reader) jobs(dataDir string) Jobs {
	j := Jobs{
		KinetixBaseURL:        r.url("KINETIX_BASE_URL", "http://127.0.0.1:4101", "http", "https"),
		KinetixAPIKey:         r.str("KINETIX_API_KEY", "gamepipe-local-dev"),
		GeneraitivBaseURL:     r.url("GENERAITIV_BASE_URL", "http://127.0.0.1:4102/v1/", "http", "https"),
		GeneraitivAPIKey:      r.str("GENERAITIV_API_KEY", "gamepipe-local-dev"),
		JobTimeout:            r.duration("JOB_TIMEOUT", time.Minute),
		JobMaxAttempts:        r.positiveInt("JOB_MAX_ATTEMPTS", 25),
		KinetixConcurrency:    r.positiveInt("KINETIX_CONCURRENCY", 40),
		GeneraitivConcurrency: r.positiveInt("GENERAITIV_CONCURRENCY", 20),
		RescueStuckJobsAfter:  r.duration("RIVER_RESCUE_AFTER", 5*time.Minute),
		FetchPollInterval:     r.duration("RIVER_POLL_INTERVAL", time.Second),
		SoftStopTimeout:       r.duration("RIVER_SOFT_STOP_TIMEOUT", 10*time.Second),
		MaxVideoBytes:         int64(r.positiveInt("MAX_VIDEO_BYTES", 200<<20)),
		MaxModelBytes:         int64(r.positiveInt("MAX_MODEL_BYTES", 200<<20)),
	}
	j.AppShare = r.appShare()
	j.KinetixDeadline = r.duration("KINETIX_DEADLINE", 10*time.Minute)
	j.GeneraitivDeadline = r.duration("GENERAITIV_DEADLINE", 10*time.Minute)
	j.GeneraitivMaxImageBytes = int64(r.positiveInt("GENERAITIV_MAX_IMAGE_BYTES", 20<<20))
	j.GeneraitivRateLimit = r.positiveInt("GENERAITIV_RATE_LIMIT", 5)
	j.BlobMinFreeBytes = r.byteSize("BLOB_MIN_FREE_BYTES", DefaultBlobMinFreeBytes)
	if v := r.getenv("GENERAITIV_WS_URL"); v != "" {
		j.GeneraitivWSURL = r.url("GENERAITIV_WS_URL", "", "ws", "wss")
	} else if r.getenv("GENERAITIV_BASE_URL") == "" {
		// The local simulator serves its websocket on an address of its own.
		j.GeneraitivWSURL = "ws://127.0.0.1:4103/"
	}
	j.Blob = r.blob(dataDir)
	j.KinetixGameAPIKey = r.str("KINETIX_GAME_API_KEY", "")
	if v := r.getenv("PUBLIC_BASE_URL"); v != "" {
		j.PublicBaseURL = r.url("PUBLIC_BASE_URL", "", "http", "https")
	}
	return j
}

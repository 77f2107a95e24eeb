// Package config reads gamepipe's configuration from environment variables,
// with local defaults that just work, and validates it once. It is the only
// package that reads the environment, and only through an injected getenv, so
// the cmd layer stays testable.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Getenv is os.Getenv's signature; tests pass a map lookup.
type Getenv func(string) string

// Common is what every process reads.
type Common struct {
	// DatabaseURL is the Postgres URL (DATABASE_URL). The database is created
	// if missing.
	DatabaseURL string
	// NatsURL is the NATS server URL (NATS_URL), or a comma-separated list
	// of a cluster's servers: the client connects to any and reconnects
	// across them.
	NatsURL string
	// NATSAuth is how the process authenticates to NATS (NATS_USER with
	// NATS_PASSWORD or NATS_PASSWORD_FILE, or NATS_NKEY_SEED_FILE).
	NATSAuth NATSAuth
	// DataDir holds blobs and exports (DATA_DIR); the local natsd keeps its
	// store beside it (NATSD_STORE_DIR).
	DataDir string
	// LogFormat is auto, json or console (LOG_FORMAT); auto is console on a
	// terminal and JSON otherwise.
	LogFormat string
	// LogLevel is a zerolog level name (LOG_LEVEL).
	LogLevel string
	// SecretsKey seals the apps' upstream API keys at rest (AES-256-GCM):
	// 32 bytes, base64 in GAMEPIPE_SECRETS_KEY or in the file named by
	// GAMEPIPE_SECRETS_KEY_FILE. Empty: upstream keys cannot be stored,
	// and keys already sealed cannot be read.
	SecretsKey []byte
	// StreamReplicas is the replica count of the TELEMETRY and
	// GAMEPIPE_EVENTS streams and their durable consumers (STREAM_REPLICAS,
	// 1, 3 or 5; 3 in a three-node cluster). An existing stream with more
	// is never scaled down.
	StreamReplicas int
	// WebhookAllowPrivate lets webhook endpoints use plain http and
	// private, loopback or link-local addresses (WEBHOOK_ALLOW_PRIVATE),
	// for local development only. Default false.
	WebhookAllowPrivate bool
}

// Defaults for Common.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/gamepipe?sslmode=disable"
	DefaultNatsURL     = "nats://127.0.0.1:4222"
	DefaultDataDir     = "./data"
	DefaultHTTPAddr    = ":4000" // the api's, as in the ingestion document
)

// reader collects the first error while reading variables, so each
// constructor reads straight through and reports one clear line.
type reader struct {
	getenv Getenv
	errs   []error
}

func (r *reader) fail(name, msg string, v string) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s, got %q", name, msg, v))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "must be one of "+strings.Join(allowed, ", "), v)
	return def
}

func (r *reader) positiveInt(name string, def int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		r.fail(name, "must be a positive integer", v)
		return def
	}
	return n
}

func (r *reader) int64Allow(name string, def int64) int64 {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || (n <= 0 && n != -1) {
		r.fail(name, "must be a positive integer or -1", v)
		return def
	}
	return n
}

// byteSize reads a size in bytes with an optional unit (B, KiB, MiB,
// GiB), as GOMEMLIMIT does; "off" or 0 is 0.
func (r *reader) byteSize(name string, def int64) int64 {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	if v == "off" {
		return 0
	}
	num, shift := v, 0
	for _, u := range []struct {
		suffix string
		shift  int
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"B", 0}} {
		if strings.HasSuffix(v, u.suffix) {
			num, shift = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		r.fail(name, "must be a size such as 128MiB, or off", v)
		return def
	}
	return n << shift
}

func (r *reader) positiveFloat(name string, def float64) float64 {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n <= 0 {
		r.fail(name, "must be a positive number", v)
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		r.fail(name, "must be a positive duration such as 5s", v)
		return def
	}
	return d
}

func (r *reader) addr(name, def string) string {
	v := r.str(name, def)
	if _, _, err := net.SplitHostPort(v); err != nil {
		r.fail(name, "must be host:port or :port", v)
	}
	return v
}

func (r *reader) url(name, def string, schemes ...string) string {
	v := r.str(name, def)
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		r.fail(name, "must be a URL", redactURL(v))
		return v
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return v
		}
	}
	r.fail(name, "must use scheme "+strings.Join(schemes, " or "), redactURL(v))
	return v
}

func (r *reader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(r.errs))
	for i, e := range r.errs {
		msgs[i] = e.Error()
	}
	// One line, whatever the number of problems.
	return errors.New("invalid configuration: " + strings.Join(msgs, "; "))
}

func (r *reader) common() Common {
	natsURL := r.urlList("NATS_URL", DefaultNatsURL, "nats", "tls", "ws", "wss")
	return Common{
		DatabaseURL: r.url("DATABASE_URL", DefaultDatabaseURL, "postgres", "postgresql"),
		NatsURL:     natsURL,
		NATSAuth:    r.natsAuth(natsURL),
		DataDir:     r.str("DATA_DIR", DefaultDataDir),
		LogFormat:   r.oneOf("LOG_FORMAT", "auto", "auto", "json", "console"),
		LogLevel:    r.oneOf("LOG_LEVEL", "info", "trace", "debug", "info", "warn", "error"),
		SecretsKey:  r.secretsKey(),

		StreamReplicas:      r.replicas("STREAM_REPLICAS"),
		WebhookAllowPrivate: r.oneOf("WEBHOOK_ALLOW_PRIVATE", "false", "true", "false") == "true",
	}
}

// urlList reads a comma-separated list of URLs, each checked as url does,
// and returns it joined with commas and no spaces.
func (r *reader) urlList(name, def string, schemes ...string) string {
	v := r.str(name, def)
	parts := strings.Split(v, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			r.fail(name, "must be a comma-separated list of URLs", redactURL(v))
			return v
		}
		sub := &reader{getenv: func(string) string { return p }}
		parts[i] = sub.url(name, "", schemes...)
		r.errs = append(r.errs, sub.errs...)
	}
	return strings.Join(parts, ",")
}

// replicas reads a JetStream replica count: 1 to 5, default 1.
func (r *reader) replicas(name string) int {
	n := r.positiveInt(name, 1)
	if n > 5 {
		r.fail(name, "must be between 1 and 5", r.getenv(name))
		return 1
	}
	return n
}

// secretsKey reads GAMEPIPE_SECRETS_KEY, or the file GAMEPIPE_SECRETS_KEY_FILE
// names: 32 bytes in standard base64. Its errors never print the key.
func (r *reader) secretsKey() []byte {
	const name, fileName = "GAMEPIPE_SECRETS_KEY", "GAMEPIPE_SECRETS_KEY_FILE"
	v, from := strings.TrimSpace(r.getenv(name)), name
	if path := strings.TrimSpace(r.getenv(fileName)); path != "" {
		if v != "" {
			r.errs = append(r.errs, fmt.Errorf("%s and %s: set only one", name, fileName))
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: error reading %s: %w", fileName, path, err))
			return nil
		}
		v, from = strings.TrimSpace(string(raw)), fileName+" ("+path+")"
	}
	if v == "" {
		return nil
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) != SecretsKeySize {
		r.errs = append(r.errs, fmt.Errorf("%s: must be %d random bytes in base64 (openssl rand -base64 %d)", from, SecretsKeySize, SecretsKeySize))
		return nil
	}
	return key
}

// SecretsKeySize is the size of the secrets key in bytes (AES-256).
const SecretsKeySize = 32

// redactURL hides a password in a URL so a config error never prints it.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}

// CommonFromEnv reads only the common variables (for the admin command).
func CommonFromEnv(getenv Getenv) (*Common, error) {
	r := &reader{getenv: getenv}
	c := r.common()
	return &c, r.err()
}

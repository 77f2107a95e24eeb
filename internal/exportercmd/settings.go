package exportercmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/config"
)

// settings are the streaming exporter's knobs that internal/config does not
// (yet) read. Every variable is optional.
type settings struct {
	// InstanceID names the exporter in flush replies (EXPORTER_ID).
	InstanceID string
	// MaxFileBytes rotates files (EXPORT_MAX_FILE_BYTES, 64 MiB).
	MaxFileBytes int
	// MaxAge flushes old buffers (EXPORT_MAX_AGE, 1m).
	MaxAge time.Duration
	// MaxBufferedEvents flushes everything when reached
	// (EXPORT_MAX_BUFFERED_EVENTS, 10000).
	MaxBufferedEvents int
	// FetchBatch is the pull size (EXPORT_FETCH_BATCH, 500).
	FetchBatch int
	// AckWait is the exporter consumer's AckWait (EXPORT_ACK_WAIT, 30s).
	AckWait time.Duration
	// CompleteGrace delays marking a day complete (EXPORT_COMPLETE_GRACE, 1m).
	CompleteGrace time.Duration
}

// readSettings reads the EXPORT_* variables, reporting every bad one in a
// single line.
func readSettings(getenv config.Getenv) (*settings, error) {
	var errs []string
	fail := func(name, msg, v string) { errs = append(errs, fmt.Sprintf("%s: %s, got %q", name, msg, v)) }
	positive := func(name string, def int) int {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fail(name, "must be a positive integer", v)
			return def
		}
		return n
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fail(name, "must be a positive duration such as 30s", v)
			return def
		}
		return d
	}
	s := &settings{
		InstanceID:        strings.TrimSpace(getenv("EXPORTER_ID")),
		MaxFileBytes:      positive("EXPORT_MAX_FILE_BYTES", 64<<20),
		MaxAge:            duration("EXPORT_MAX_AGE", time.Minute),
		MaxBufferedEvents: positive("EXPORT_MAX_BUFFERED_EVENTS", 10000),
		FetchBatch:        positive("EXPORT_FETCH_BATCH", 500),
		AckWait:           duration("EXPORT_ACK_WAIT", 30*time.Second),
		CompleteGrace:     duration("EXPORT_COMPLETE_GRACE", time.Minute),
	}
	if len(errs) > 0 {
		return nil, errors.New("invalid configuration: " + strings.Join(errs, "; "))
	}
	return s, nil
}

package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestAPIFromEnv(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		c, err := APIFromEnv(env(nil))
		require.NoError(t, err)
		require.Equal(t, DefaultDatabaseURL, c.DatabaseURL)
		require.Equal(t, DefaultNatsURL, c.NatsURL)
		require.Equal(t, ":4000", c.HTTPAddr)
		require.Equal(t, 10.0, c.RateLimit)
		require.Equal(t, 10, c.RateBurst)
		require.Equal(t, 5*time.Second, c.PublishTimeout)
		require.Empty(t, c.TrustedProxies)
	})

	t.Run("TrustedProxies", func(t *testing.T) {
		t.Parallel()
		c, err := APIFromEnv(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7"}))
		require.NoError(t, err)
		require.Len(t, c.TrustedProxies, 2)
		require.Equal(t, "192.168.1.7/32", c.TrustedProxies[1].String())
	})

	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"BadRate", map[string]string{"RATE_LIMIT_RPS": "fast"}, "RATE_LIMIT_RPS"},
		{"NegativeBody", map[string]string{"MAX_BODY_BYTES": "-1"}, "MAX_BODY_BYTES"},
		{"BadAddr", map[string]string{"HTTP_ADDR": "4000"}, "HTTP_ADDR"},
		{"BadDatabaseURL", map[string]string{"DATABASE_URL": "mysql://u:hunter2@h/db"}, "DATABASE_URL"},
		{"BadNatsURL", map[string]string{"NATS_URL": "http://x"}, "NATS_URL"},
		{"BadDuration", map[string]string{"PUBLISH_TIMEOUT": "5"}, "PUBLISH_TIMEOUT"},
		{"DiscardOldRefused", map[string]string{"STREAM_DISCARD": "old"}, "STREAM_DISCARD"},
		{"BadProxy", map[string]string{"TRUSTED_PROXIES": "not-an-ip"}, "TRUSTED_PROXIES"},
		{"BadLogFormat", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := APIFromEnv(env(tt.env))
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "\n", "one clear line")
			require.NotContains(t, err.Error(), "hunter2", "passwords never printed")
		})
	}

	t.Run("SeveralProblemsOneLine", func(t *testing.T) {
		t.Parallel()
		_, err := APIFromEnv(env(map[string]string{"RATE_LIMIT_RPS": "x", "HTTP_ADDR": "y"}))
		require.Error(t, err)
		require.Equal(t, 1, strings.Count(err.Error(), "invalid configuration"))
		require.NotContains(t, err.Error(), "\n")
	})
}

func TestWorkerFromEnv(t *testing.T) {
	t.Parallel()
	c, err := WorkerFromEnv(env(map[string]string{"SINK_ACK_WAIT": "2s"}))
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, c.AckWait)
	_, err = WorkerFromEnv(env(map[string]string{"SINK_BATCH_MAX": "0"}))
	require.ErrorContains(t, err, "SINK_BATCH_MAX")
}

func TestAPIMemoryLimit(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]int64{"": 128 << 20, "off": 0, "0": 0, "64MiB": 64 << 20, "1GiB": 1 << 30, "4096": 4096, "512KiB": 512 << 10, "100 MiB": 100 << 20} {
		cfg, err := APIFromEnv(env(map[string]string{"API_MEMORY_LIMIT": give}))
		require.NoError(t, err, give)
		require.Equal(t, want, cfg.MemoryLimit, give)
	}
	for _, bad := range []string{"-1", "lots", "12MB", "9999999999GiB"} {
		_, err := APIFromEnv(env(map[string]string{"API_MEMORY_LIMIT": bad}))
		require.ErrorContains(t, err, "API_MEMORY_LIMIT", bad)
	}
}

func TestAPIAuthStaleMax(t *testing.T) {
	t.Parallel()
	cfg, err := APIFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, 10*time.Minute, cfg.AuthStaleMax)
	cfg, err = APIFromEnv(env(map[string]string{"AUTH_STALE_MAX": "90s"}))
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, cfg.AuthStaleMax)
	_, err = APIFromEnv(env(map[string]string{"AUTH_STALE_MAX": "forever"}))
	require.ErrorContains(t, err, "AUTH_STALE_MAX")
}

func TestBlobMinFreeBytes(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]int64{"": 1 << 30, "off": 0, "0": 0, "512MiB": 512 << 20, "10GiB": 10 << 30} {
		api, err := APIFromEnv(env(map[string]string{"BLOB_MIN_FREE_BYTES": give}))
		require.NoError(t, err, give)
		require.Equal(t, want, api.BlobMinFreeBytes, give)
		worker, err := WorkerFromEnv(env(map[string]string{"BLOB_MIN_FREE_BYTES": give}))
		require.NoError(t, err, give)
		require.Equal(t, want, worker.BlobMinFreeBytes, give)
	}
	_, err := WorkerFromEnv(env(map[string]string{"BLOB_MIN_FREE_BYTES": "-5"}))
	require.ErrorContains(t, err, "BLOB_MIN_FREE_BYTES")
}

func TestSSEMaxStreamsPerApp(t *testing.T) {
	t.Parallel()
	c, err := APIFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, 100, c.SSEMaxStreamsPerApp)
	c, err = APIFromEnv(env(map[string]string{"SSE_MAX_STREAMS_PER_APP": "7"}))
	require.NoError(t, err)
	require.Equal(t, 7, c.SSEMaxStreamsPerApp)
	_, err = APIFromEnv(env(map[string]string{"SSE_MAX_STREAMS_PER_APP": "0"}))
	require.ErrorContains(t, err, "SSE_MAX_STREAMS_PER_APP")
}

func TestAPIIngestLinger(t *testing.T) {
	t.Parallel()
	cfg, err := APIFromEnv(env(nil))
	require.NoError(t, err)
	require.True(t, cfg.IngestGroup)
	require.Zero(t, cfg.IngestLinger)
	require.Equal(t, int64(256<<10), cfg.IngestMaxMessageBytes)
	cfg, err = APIFromEnv(env(map[string]string{"INGEST_LINGER": "2ms", "INGEST_MAX_MESSAGE_BYTES": "64KiB"}))
	require.NoError(t, err)
	require.True(t, cfg.IngestGroup)
	require.Equal(t, 2*time.Millisecond, cfg.IngestLinger)
	require.Equal(t, int64(64<<10), cfg.IngestMaxMessageBytes)
	cfg, err = APIFromEnv(env(map[string]string{"INGEST_LINGER": "off"}))
	require.NoError(t, err)
	require.False(t, cfg.IngestGroup)
	require.Zero(t, cfg.IngestLinger)
	_, err = APIFromEnv(env(map[string]string{"INGEST_LINGER": "-1ms"}))
	require.ErrorContains(t, err, "INGEST_LINGER")
	_, err = APIFromEnv(env(map[string]string{"INGEST_MAX_MESSAGE_BYTES": "1KiB"}))
	require.ErrorContains(t, err, "INGEST_MAX_MESSAGE_BYTES")
}

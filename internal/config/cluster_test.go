package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClusterSettings(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		c, err := WorkerFromEnv(env(nil))
		require.NoError(t, err)
		require.Equal(t, 1, c.StreamReplicas)
		require.Equal(t, DefaultNatsURL, c.NatsURL)
	})

	t.Run("NatsURLList", func(t *testing.T) {
		t.Parallel()
		c, err := APIFromEnv(env(map[string]string{
			"NATS_URL":        "nats://a:4222, nats://b:4222,tls://c:4222",
			"STREAM_REPLICAS": "3",
		}))
		require.NoError(t, err)
		require.Equal(t, "nats://a:4222,nats://b:4222,tls://c:4222", c.NatsURL)
		require.Equal(t, 3, c.StreamReplicas)
	})

	for name, e := range map[string]map[string]string{
		"BadListMember":  {"NATS_URL": "nats://a:4222,http://u:hunter2@b:4222"},
		"EmptyListEntry": {"NATS_URL": "nats://a:4222,,nats://b:4222"},
		"TooManyReplica": {"STREAM_REPLICAS": "7"},
		"ZeroReplicas":   {"STREAM_REPLICAS": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ExporterFromEnv(env(e))
			require.Error(t, err)
			for k := range e {
				require.ErrorContains(t, err, k)
			}
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestTelemetryRetention(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{
		"": 0, "off": 0, "400d": 400 * 24 * time.Hour, "2160h": 90 * 24 * time.Hour,
	} {
		c, err := WorkerFromEnv(env(map[string]string{"TELEMETRY_RETENTION": v}))
		require.NoError(t, err, v)
		require.Equal(t, want, c.TelemetryRetention, v)
	}
	for _, v := range []string{"1d", "24h", "-5d", "forever", "5"} {
		_, err := WorkerFromEnv(env(map[string]string{"TELEMETRY_RETENTION": v}))
		require.ErrorContains(t, err, "TELEMETRY_RETENTION", v)
	}
}

package devrun

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()

	cfg, err := ConfigFromEnv(envFunc(nil), nil)
	require.NoError(t, err)
	require.Equal(t, "./bin", cfg.BinDir)
	require.Equal(t, "./data", cfg.DataDir)
	require.Equal(t, "data-nats", cfg.NATSDStoreDir, "natsd's store is beside DATA_DIR, not in it")
	require.Equal(t, "nats://127.0.0.1:4222", cfg.NATSURL)
	require.Equal(t, 4223, cfg.NATSDPort)
	require.Equal(t, ":4000", cfg.HTTPAddr)
	require.Equal(t, 15*time.Second, cfg.StopTimeout)
	require.True(t, cfg.Color)
	require.Equal(t, "http://localhost:4000", cfg.apiBase())
	require.Equal(t, "127.0.0.1:4000", cfg.apiDialAddr())

	cfg, err = ConfigFromEnv(envFunc(map[string]string{
		"DATA_DIR":            "/var/gp",
		"NATS_URL":            "nats://10.0.0.2:4222",
		"NATSD_PORT":          "5000",
		"HTTP_ADDR":           "127.0.0.2:8080",
		"DEVRUN_STOP_TIMEOUT": "3s",
		"NO_COLOR":            "1",
	}), nil)
	require.NoError(t, err)
	require.Equal(t, "/var/gp", cfg.DataDir)
	require.Equal(t, "/var/gp-nats", cfg.NATSDStoreDir)
	require.Equal(t, "nats://10.0.0.2:4222", cfg.NATSURL)
	require.Equal(t, 5000, cfg.NATSDPort)
	require.Equal(t, 3*time.Second, cfg.StopTimeout)
	require.False(t, cfg.Color)
	require.Equal(t, "http://127.0.0.2:8080", cfg.apiBase())

	cfg, err = ConfigFromEnv(envFunc(map[string]string{"DATA_DIR": "/var/gp", "NATSD_STORE_DIR": "/mnt/js"}), nil)
	require.NoError(t, err)
	require.Equal(t, "/mnt/js", cfg.NATSDStoreDir)
}

func TestConfigFromEnv_Invalid(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		env     map[string]string
		wantErr string
	}{
		"PortNotNumber":   {map[string]string{"NATSD_PORT": "x"}, "NATSD_PORT"},
		"PortOutOfRange":  {map[string]string{"NATSD_PORT": "70000"}, "NATSD_PORT"},
		"BadStopTimeout":  {map[string]string{"DEVRUN_STOP_TIMEOUT": "soon"}, "DEVRUN_STOP_TIMEOUT"},
		"BadHTTPAddr":     {map[string]string{"HTTP_ADDR": "4000"}, "HTTP_ADDR"},
		"NegativeTimeout": {map[string]string{"DEVRUN_STOP_TIMEOUT": "-1s"}, "DEVRUN_STOP_TIMEOUT"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ConfigFromEnv(envFunc(tt.env), nil)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	base := []string{"PATH=/bin", "NATS_URL=nats://old:4222", "LOG_FORMAT=", "HOME=/root"}
	env := childEnv(base, map[string]string{"NATS_URL": "nats://127.0.0.1:4223"}, map[string]string{"LOG_FORMAT": "console", "LOG_LEVEL": "info"})
	slices.Sort(env)
	require.Equal(t, []string{"HOME=/root", "LOG_FORMAT=console", "LOG_LEVEL=info", "NATS_URL=nats://127.0.0.1:4223", "PATH=/bin"}, env)

	env = childEnv([]string{"LOG_FORMAT=json"}, nil, map[string]string{"LOG_FORMAT": "console"})
	require.Equal(t, []string{"LOG_FORMAT=json"}, env, "a value the developer set wins")
}

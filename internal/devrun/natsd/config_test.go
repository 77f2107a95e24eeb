package natsd

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv_Defaults(t *testing.T) {
	t.Parallel()
	cfg, err := ConfigFromEnv(envFunc(nil), nil, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, &Config{
		Host:         "127.0.0.1",
		Port:         4223,
		StoreDir:     "data-nats",
		SyncInterval: 2 * time.Minute,
		SyncAlways:   true,
	}, cfg)
}

func TestConfigFromEnv_EnvAndFlags(t *testing.T) {
	t.Parallel()
	env := envFunc(map[string]string{
		"DATA_DIR":            "/srv/gp",
		"NATSD_PORT":          "5222",
		"NATSD_MONITOR_PORT":  "8222",
		"NATSD_SYNC_INTERVAL": "always",
		"NATSD_DEBUG":         "true",
	})
	cfg, err := ConfigFromEnv(env, nil, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, &Config{
		Host:         "127.0.0.1",
		Port:         5222,
		MonitorPort:  8222,
		StoreDir:     "/srv/gp-nats",
		SyncInterval: 2 * time.Minute,
		SyncAlways:   true,
		Debug:        true,
	}, cfg)

	cfg, err = ConfigFromEnv(env, []string{"-port", "6222", "-store-dir", "/tmp/js", "-sync", "10s", "-http-port", "0"}, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, 6222, cfg.Port, "flags override the environment")
	require.Equal(t, 0, cfg.MonitorPort)
	require.Equal(t, "/tmp/js", cfg.StoreDir)
	require.Equal(t, 10*time.Second, cfg.SyncInterval)
	require.False(t, cfg.SyncAlways)

	cfg, err = ConfigFromEnv(envFunc(map[string]string{"DATA_DIR": "/a", "NATSD_STORE_DIR": "/b"}), nil, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, "/b", cfg.StoreDir, "NATSD_STORE_DIR wins over DATA_DIR")
}

func TestConfigFromEnv_Invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"PortNotNumber", map[string]string{"NATSD_PORT": "x"}, nil, `NATSD_PORT: "x" is not a number`},
		{"PortOutOfRange", map[string]string{"NATSD_PORT": "0"}, nil, "NATSD_PORT: 0 is not a port number"},
		{"MonitorPortNotNumber", map[string]string{"NATSD_MONITOR_PORT": "y"}, nil, "NATSD_MONITOR_PORT"},
		{"MonitorPortIsClientPort", map[string]string{"NATSD_MONITOR_PORT": "4223"}, nil, "also the client port"},
		{"SyncGarbage", map[string]string{"NATSD_SYNC_INTERVAL": "sometimes"}, nil, "NATSD_SYNC_INTERVAL"},
		{"SyncZero", map[string]string{"NATSD_SYNC_INTERVAL": "0s"}, nil, "NATSD_SYNC_INTERVAL"},
		{"DebugNotBool", map[string]string{"NATSD_DEBUG": "maybe"}, nil, "NATSD_DEBUG"},
		{"UnknownFlag", nil, []string{"-nope"}, "flag provided but not defined"},
		{"StrayArgument", nil, []string{"extra"}, `unexpected argument "extra"`},
		{"EmptyStoreDir", nil, []string{"-store-dir", ""}, "NATSD_STORE_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ConfigFromEnv(envFunc(tt.env), tt.args, &bytes.Buffer{})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestConfigFromEnv_Help(t *testing.T) {
	t.Parallel()
	var usage bytes.Buffer
	_, err := ConfigFromEnv(envFunc(nil), []string{"-h"}, &usage)
	require.True(t, errors.Is(err, flag.ErrHelp))
	require.Contains(t, usage.String(), "NATSD_SYNC_INTERVAL")
}

func TestParseSync(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		interval time.Duration
		always   bool
	}{
		"":        {2 * time.Minute, true},
		"always":  {2 * time.Minute, true},
		"ALWAYS ": {2 * time.Minute, true},
		"2m":      {2 * time.Minute, false},
		"500ms":   {500 * time.Millisecond, false},
	} {
		interval, always, err := ParseSync(in)
		require.NoError(t, err, in)
		require.Equal(t, want.interval, interval, in)
		require.Equal(t, want.always, always, in)
	}
	for _, in := range []string{"never", "-1s", "0", "5"} {
		_, _, err := ParseSync(in)
		require.Error(t, err, in)
	}
}

func TestDefaultStoreDir(t *testing.T) {
	t.Parallel()
	cwd, err := os.Getwd()
	require.NoError(t, err)
	for dataDir, want := range map[string]string{
		"./data":    "data-nats",
		"data/":     "data-nats",
		"/srv/gp":   "/srv/gp-nats",
		"/srv/gp/":  "/srv/gp-nats",
		".":         cwd + "-nats",
		"../shared": "../shared-nats",
	} {
		got := DefaultStoreDir(dataDir)
		require.Equal(t, want, got, dataDir)
		absData, err := filepath.Abs(dataDir)
		require.NoError(t, err)
		absGot, err := filepath.Abs(got)
		require.NoError(t, err)
		rel, err := filepath.Rel(absData, absGot)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(rel, ".."+string(filepath.Separator)), "%s is outside %s", got, dataDir)
	}
}

package natsd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func testConfig(t *testing.T) *Config {
	return &Config{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir(), SyncInterval: DefaultSyncInterval}
}

func TestServer_StartStop(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SyncAlways = true
	var logs testutil.SyncBuffer
	s, err := New(cfg, &logs)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(s.Stop)

	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	require.Equal(t, Version, nc.ConnectedServerVersion())
	require.NoError(t, eventstream.CheckServer(context.Background(), nc), "gamepipe accepts it")

	js := s.srv.JetStreamConfig()
	require.NotNil(t, js)
	require.True(t, js.SyncAlways, "SyncAlways reaches JetStream")
	require.Equal(t, DefaultSyncInterval, js.SyncInterval)
	require.Contains(t, js.StoreDir, cfg.StoreDir)
	require.Contains(t, logs.String(), " INF Server is ready\n")

	s.Stop()
	s.Stop() // twice is fine
	require.False(t, s.srv.Running())
}

func TestServer_SyncInterval(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SyncInterval = 7 * time.Second
	s, err := New(cfg, &testutil.SyncBuffer{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(s.Stop)
	require.Equal(t, 7*time.Second, s.srv.JetStreamConfig().SyncInterval)
	require.False(t, s.srv.JetStreamConfig().SyncAlways)
}

func TestServer_PortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	cfg := testConfig(t)
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	var logs testutil.SyncBuffer
	s, err := New(cfg, &logs)
	require.NoError(t, err)
	err = s.Start(context.Background())
	require.ErrorContains(t, err, "address already in use")
	require.Contains(t, logs.String(), " FTL ")
}

func TestRun(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Port = testutil.FreePort(t)
	cfg.MonitorPort = testutil.FreePort(t)
	var logs testutil.SyncBuffer

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, &logs) }()

	url := fmt.Sprintf("nats://127.0.0.1:%d", cfg.Port)
	var nc *nats.Conn
	require.Eventually(t, func() bool {
		var err error
		nc, err = nats.Connect(url)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	defer nc.Close()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "natsd: nats-server") }, 10*time.Second, 10*time.Millisecond)

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", cfg.MonitorPort))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	out := logs.String()
	require.Contains(t, out, "natsd: nats-server "+Version+" ready at "+url+", JetStream store "+cfg.StoreDir+", fsync every 2m0s\n")
	require.Contains(t, out, "natsd: shutting down\n")
	require.True(t, strings.HasSuffix(out, "Server Exiting..\n"), out)
}

func TestNew_Invalid(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.StoreDir = ""
	_, err := New(cfg, &testutil.SyncBuffer{})
	require.ErrorContains(t, err, "NATSD_STORE_DIR")
}

func TestRun_StopWhileStarting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, Run(ctx, testConfig(t), &testutil.SyncBuffer{}))
}

func TestServer_StopWithoutStart(t *testing.T) {
	t.Parallel()
	s, err := New(testConfig(t), &testutil.SyncBuffer{})
	require.NoError(t, err)
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("Stop of a server never started blocks")
	}
}

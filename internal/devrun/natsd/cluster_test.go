package natsd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv_Cluster(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"NATSD_SERVER_NAME": "n2", "NATSD_CLUSTER_PORT": "6224",
		"NATSD_ROUTES": "nats-route://127.0.0.1:6223, nats-route://127.0.0.1:6225", "NATSD_SYNC_INTERVAL": "always",
	}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] }, nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "n2", cfg.ServerName)
	require.Equal(t, 6224, cfg.ClusterPort)
	require.Equal(t, []string{"nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6225"}, cfg.Routes)
	require.True(t, cfg.SyncAlways)

	for name, env := range map[string]map[string]string{
		"RoutesWithoutPort": {"NATSD_ROUTES": "nats-route://127.0.0.1:6223"},
		"BadRoute":          {"NATSD_CLUSTER_PORT": "6224", "NATSD_ROUTES": "http://x"},
		"BadPort":           {"NATSD_CLUSTER_PORT": "70000"},
	} {
		_, err := ConfigFromEnv(func(k string) string { return env[k] }, nil, io.Discard)
		require.Error(t, err, name)
	}
}

// TestCluster: three natsd servers configured as one cluster elect a
// JetStream leader and hold a stream with three replicas.
func TestCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ports := make([]int, 3)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		require.NoError(t, ln.Close())
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var urls []string
	for i := range ports {
		cfg := testConfig(t)
		cfg.ServerName, cfg.ClusterPort, cfg.Routes = fmt.Sprintf("n%d", i+1), ports[i], routes
		s, err := New(cfg, io.Discard)
		require.NoError(t, err)
		require.NoError(t, s.Start(ctx))
		t.Cleanup(s.Stop)
		urls = append(urls, s.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		// Each try has its own deadline: a request sent before the
		// cluster had a leader may go unanswered.
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := js.CreateStream(tctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
		return err == nil
	}, time.Minute, 200*time.Millisecond, "the cluster takes an R3 stream once it has a leader")
	s, err := js.Stream(ctx, "R3")
	require.NoError(t, err)
	require.Len(t, s.CachedInfo().Cluster.Replicas, 2)
}

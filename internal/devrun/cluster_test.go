package devrun

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func envValue(env []string, key string) string {
	for _, kv := range slices.Backward(env) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func TestClusterPlan(t *testing.T) {
	t.Parallel()
	cfg := &Config{DataDir: "/d", Env: []string{"PATH=/bin", "NATSD_SYNC_INTERVAL="}}
	require.NoError(t, cfg.validate())
	r := &runner{cfg: cfg, natsUsers: &natsUsers{file: "/d/nats-auth/users.json"}}

	nats := r.clusterNATSProcesses()
	require.Len(t, nats, 3)
	for i, p := range nats {
		require.Equal(t, []string{"n1", "n2", "n3"}[i], envValue(p.Env, "NATSD_SERVER_NAME"))
		require.Equal(t, "always", envValue(p.Env, "NATSD_SYNC_INTERVAL"), "always unless the developer sets it")
		require.Len(t, strings.Split(envValue(p.Env, "NATSD_ROUTES"), ","), 3)
		require.NotEqual(t, envValue(p.Env, "NATSD_PORT"), envValue(p.Env, "NATSD_CLUSTER_PORT"))
		require.True(t, strings.HasPrefix(envValue(p.Env, "NATSD_STORE_DIR"), cfg.NATSDStoreDir+"-"))
		require.Equal(t, "/d/nats-auth/users.json", envValue(p.Env, "NATSD_USERS_FILE"), "every member admits only the role users")
	}
	require.NotEqual(t, envValue(nats[0].Env, "NATSD_STORE_DIR"), envValue(nats[1].Env, "NATSD_STORE_DIR"))

	base := []string{"NATS_URL=" + clusterNATSURL(), "BLOB_STORE=dir"}
	api2 := clusterEnv(base, "api2")
	require.Equal(t, ":4010", envValue(api2, "HTTP_ADDR"))
	require.Equal(t, "3", envValue(api2, "STREAM_REPLICAS"))
	require.Equal(t, "dir", envValue(api2, "BLOB_STORE"), "a developer's choice is kept")
	require.Len(t, strings.Split(envValue(api2, "NATS_URL"), ","), 3)
	require.Equal(t, "postgres", envValue(clusterEnv(nil, "worker2"), "BLOB_STORE"))
	s3 := clusterEnv([]string{"BLOB_URL=s3://gp-blobs?endpoint=127.0.0.1:8333"}, "worker2")
	require.Empty(t, envValue(s3, "BLOB_STORE"), "BLOB_URL is a developer's choice too")
	require.Equal(t, "127.0.0.1:4011", envValue(clusterEnv(nil, "worker2"), "WORKER_HTTP_ADDR"))

	// Every listener of the topology has its own port.
	seen := map[string]bool{}
	for _, s := range clusterServices {
		for k, v := range s.env {
			if strings.HasSuffix(k, "ADDR") {
				require.False(t, seen[v], "%s %s reused", s.name, v)
				seen[v] = true
			}
		}
	}
}

package devrun

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClusterNATSPorts are the client ports of the three natsd a cluster run
// starts (n1, n2, n3); each one's cluster port is its client port + 2000.
var ClusterNATSPorts = []int{4231, 4232, 4233}

// clusterRouteOffset is what a member's cluster port adds to its client port.
const clusterRouteOffset = 2000

// clusterServices are the processes of a cluster run, beside the three
// natsd: two apis and two workers on ports of their own, one exporter.
// Each maps to the variables set for it on top of the shared environment.
var clusterServices = []struct {
	name, bin string
	env       map[string]string
}{
	{"api1", "api", map[string]string{"HTTP_ADDR": ":4000", "METRICS_ADDR": "127.0.0.1:4003"}},
	{"api2", "api", map[string]string{"HTTP_ADDR": ":4010", "METRICS_ADDR": "127.0.0.1:4013"}},
	{"worker1", "worker", map[string]string{"WORKER_HTTP_ADDR": "127.0.0.1:4001"}},
	{"worker2", "worker", map[string]string{"WORKER_HTTP_ADDR": "127.0.0.1:4011"}},
	{"exporter", "exporter", map[string]string{"EXPORTER_HTTP_ADDR": "127.0.0.1:4002"}},
}

// clusterNATSURL is NATS_URL for the processes of a cluster run: every
// member, so that any one may go down.
func clusterNATSURL() string {
	urls := make([]string, len(ClusterNATSPorts))
	for i, p := range ClusterNATSPorts {
		urls[i] = "nats://127.0.0.1:" + strconv.Itoa(p)
	}
	return strings.Join(urls, ",")
}

// clusterNATSProcesses are the three natsd of a cluster run: named n1..n3,
// each with its own store beside the single natsd's, routed to the others.
// NATSD_SYNC_INTERVAL defaults to always (docs/scaling.md).
func (r *runner) clusterNATSProcesses() []*Process {
	var routes []string
	for _, p := range ClusterNATSPorts {
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(p+clusterRouteOffset))
	}
	procs := make([]*Process, len(ClusterNATSPorts))
	for i, p := range ClusterNATSPorts {
		name := "n" + strconv.Itoa(i+1)
		procs[i] = &Process{
			Name: "natsd-" + name,
			Path: r.bin("natsd"),
			Env: childEnv(r.cfg.Env, map[string]string{
				"NATSD_PORT": strconv.Itoa(p), "NATSD_STORE_DIR": r.cfg.NATSDStoreDir + "-" + name,
				"NATSD_SERVER_NAME": name, "NATSD_CLUSTER_PORT": strconv.Itoa(p + clusterRouteOffset),
				"NATSD_ROUTES": strings.Join(routes, ","), "DATA_DIR": r.cfg.DataDir, "NATSD_USERS_FILE": r.natsUsers.file,
			}, map[string]string{"NATSD_SYNC_INTERVAL": "always"}),
		}
	}
	return procs
}

// clusterPlan builds the services of a cluster run.
func (r *runner) clusterPlan() ([]*Process, error) {
	var procs []*Process
	for _, s := range clusterServices {
		if _, err := os.Stat(r.bin(s.bin)); err != nil {
			return nil, fmt.Errorf("%s is missing: build it first (make cluster builds everything): %w", r.bin(s.bin), err)
		}
		procs = append(procs, &Process{Name: s.name, Path: r.bin(s.bin)})
	}
	return procs, nil
}

// clusterEnv is a cluster service's environment: the shared one, the
// cluster's settings, and the service's own addresses.
func clusterEnv(base []string, name string) []string {
	set := map[string]string{}
	for _, s := range clusterServices {
		if s.name == name {
			for k, v := range s.env {
				set[k] = v
			}
		}
	}
	defaults := map[string]string{"STREAM_REPLICAS": "3", "BLOB_STORE": "postgres"}
	for _, kv := range base {
		if strings.HasPrefix(kv, "BLOB_URL=") {
			delete(defaults, "BLOB_STORE") // the developer's choice of store
		}
	}
	return childEnv(base, set, defaults)
}

// startNATSCluster starts the three natsd of a cluster run and returns
// NATS_URL once every member accepts connections. The cluster elects its
// JetStream leaders meanwhile; the services wait for that themselves.
func (r *runner) startNATSCluster(ctx context.Context) (string, error) {
	if _, err := os.Stat(r.bin("natsd")); err != nil {
		return "", fmt.Errorf("%s is missing: build it first (make cluster builds everything): %w", r.bin("natsd"), err)
	}
	r.out.Printf("devrun", "starting a cluster of three pinned nats-servers on :%d, :%d, :%d",
		ClusterNATSPorts[0], ClusterNATSPorts[1], ClusterNATSPorts[2])
	if err := r.ensureNATSUsers(); err != nil {
		return "", err
	}
	r.natsCluster = r.clusterNATSProcesses()
	for _, p := range r.natsCluster {
		if err := p.Start(r.out); err != nil {
			return "", err
		}
	}
	for i, p := range ClusterNATSPorts {
		if !waitListening(ctx, "127.0.0.1:"+strconv.Itoa(p), r.cfg.NATSReadyTimeout) {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", &ExitError{Name: r.natsCluster[i].Name, Err: fmt.Errorf("not listening after %s", r.cfg.NATSReadyTimeout)}
		}
	}
	return clusterNATSURL(), nil
}

// stopNATSCluster stops the cluster's natsd, after the services.
func (r *runner) stopNATSCluster() {
	for _, p := range r.natsCluster {
		if killed := p.Stop(r.cfg.StopTimeout); killed {
			r.out.Printf("devrun", "%s did not stop within %s; killed it", p.Name, r.cfg.StopTimeout)
		}
	}
}

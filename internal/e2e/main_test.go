package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gamepipe/gamepipe/internal/devrun/natsd"
)

// subprocesses are the other roles the test binary can play, chosen by an
// environment variable set to 1 (tests of other build tags add theirs).
var subprocesses = map[string]func(ctx context.Context) error{}

// TestMain doubles as a nats-server subprocess (GAMEPIPE_E2E_NATSD=1), so a
// test can SIGKILL a real server process without building a binary; it
// fsyncs every write, as natsd does by default; with
// GAMEPIPE_E2E_NATSD_CLUSTER_PORT it is a member of a cluster.
func TestMain(m *testing.M) {
	for env, run := range subprocesses {
		if os.Getenv(env) == "1" {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			err := run(ctx)
			stop()
			if err != nil {
				fmt.Fprintln(os.Stderr, env+":", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	if os.Getenv("GAMEPIPE_E2E_NATSD") == "1" {
		port, _ := strconv.Atoi(os.Getenv("GAMEPIPE_E2E_NATSD_PORT"))
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		cfg := &natsd.Config{Host: "127.0.0.1", Port: port, StoreDir: os.Getenv("GAMEPIPE_E2E_NATSD_DIR"), SyncInterval: natsd.DefaultSyncInterval, SyncAlways: true}
		if v := os.Getenv("GAMEPIPE_E2E_NATSD_CLUSTER_PORT"); v != "" {
			cfg.ClusterPort, _ = strconv.Atoi(v)
			cfg.ServerName = os.Getenv("GAMEPIPE_E2E_NATSD_NAME")
			cfg.Routes = strings.Split(os.Getenv("GAMEPIPE_E2E_NATSD_ROUTES"), ",")
		}
		err := natsd.Run(ctx, cfg, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "natsd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

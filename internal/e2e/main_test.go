package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"github.com/gamepipe/gamepipe/internal/devrun/natsd"
)

// TestMain doubles as a nats-server subprocess (GAMEPIPE_E2E_NATSD=1), so a
// test can SIGKILL a real server process without building a binary. It
// fsyncs every write, as natsd does by default.
func TestMain(m *testing.M) {
	if os.Getenv("GAMEPIPE_E2E_NATSD") == "1" {
		port, _ := strconv.Atoi(os.Getenv("GAMEPIPE_E2E_NATSD_PORT"))
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		err := natsd.Run(ctx, &natsd.Config{Host: "127.0.0.1", Port: port, StoreDir: os.Getenv("GAMEPIPE_E2E_NATSD_DIR"), SyncInterval: natsd.DefaultSyncInterval, SyncAlways: true}, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "natsd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

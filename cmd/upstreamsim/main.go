// Command upstreamsim serves the Kinetix and Generaitiv simulators on local
// ports (KINETIX_SIM_ADDR, default 127.0.0.1:4101; GENERAITIV_SIM_ADDR,
// default 127.0.0.1:4102, with its websocket on GENERAITIV_SIM_WS_ADDR,
// default 127.0.0.1:4103) for the local stack and the benchmarks.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gamepipe/gamepipe/internal/upstreamsim/simcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := simcmd.Run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "upstreamsim:", err)
		os.Exit(1)
	}
}

// Command worker sinks the TELEMETRY stream into Postgres and runs the River
// workers of every job kind (Kinetix emotes, Generaitiv generations), with
// health and metrics on WORKER_HTTP_ADDR. See internal/workercmd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gamepipe/gamepipe/internal/workercmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := workercmd.Run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// Command api is gamepipe's HTTP API: telemetry ingestion, model uploads,
// emote and generation jobs, the Generaitiv webhook, health; its metrics on
// METRICS_ADDR. See internal/apicmd and README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gamepipe/gamepipe/internal/apicmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := apicmd.Run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

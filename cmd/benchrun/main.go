// Command benchrun is what `make bench` runs: it starts a private gamepipe
// stack, runs every scenario against its raw ceiling measured in the same
// run, prints the table and writes bench/out/latest.json and latest.md.
// See internal/benchrun and bench/README.md.
//
// `benchrun minimal-ingest` serves the single-event ingest's raw ceiling
// instead (benchrun.RunMinimalIngest); the bench starts it itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gamepipe/gamepipe/internal/benchrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == benchrun.MinimalIngestCommand {
		err = benchrun.RunMinimalIngest(ctx, os.Getenv)
	} else {
		var cfg *benchrun.Config
		cfg, err = benchrun.ConfigFromEnv(os.Getenv, os.Environ())
		if err == nil {
			err = benchrun.Run(ctx, cfg, os.Stdout)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

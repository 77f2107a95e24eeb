// Command devrun runs the whole gamepipe stack from ./bin in one terminal;
// `make run` builds the binaries and starts it. See internal/devrun.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gamepipe/gamepipe/internal/devrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// After the first signal, restore the default action: a second Ctrl-C
	// kills devrun at once, and with it (by their parent-death signal) the
	// children still stopping.
	context.AfterFunc(ctx, stop)

	cfg, err := devrun.ConfigFromEnv(os.Getenv, os.Environ())
	if err == nil {
		err = devrun.Run(ctx, cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devrun:", err)
		os.Exit(1)
	}
}

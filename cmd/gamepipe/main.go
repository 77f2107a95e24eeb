// Command gamepipe is the admin command: migrations, apps and their keys,
// and each app's upstream keys. See internal/gamepipecmd.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gamepipe/gamepipe/internal/gamepipecmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := gamepipecmd.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gamepipe:", err)
		if errors.Is(err, gamepipecmd.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Package simcmd runs every upstream simulator that is built, each on its
// own address, until ctx ends.
package simcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

type sim struct {
	name string
	from func(getenv func(string) string) (string, http.Handler, error)
}

var sims = []sim{
	{"kinetix", kinetixsim.FromEnv},
	{"generaitiv", generaitivsim.FromEnv},
}

// Run serves the simulators until ctx is cancelled.
func Run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	g, gctx := errgroup.WithContext(ctx)
	started := 0
	for _, s := range sims {
		addr, h, err := s.from(getenv)
		if err != nil {
			fmt.Fprintf(stderr, "upstreamsim: %s: %v\n", s.name, err)
			continue
		}
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
		started++
		fmt.Fprintf(stderr, "upstreamsim: %s simulator on %s\n", s.name, addr)
		g.Go(func() error {
			errc := make(chan error, 1)
			go func() { errc <- srv.ListenAndServe() }()
			select {
			case err := <-errc:
				return fmt.Errorf("%s simulator: %w", s.name, err)
			case <-gctx.Done():
				sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			}
		})
	}
	if started == 0 {
		<-ctx.Done() // nothing to serve; stay up so a supervisor sees no crash
		return nil
	}
	return g.Wait()
}

// Package pprofserve serves net/http/pprof on the address in
// GAMEPIPE_PPROF_ADDR, when that variable is set, from its own listener.
//
// No gamepipe package imports it: benchrun links it into the api and
// worker it builds for BENCH_PROFILE=1 (go build -overlay adds a one-line
// file importing it to cmd/api and cmd/worker), so the binaries that
// `make build` makes, and production, never carry a profiling endpoint.
// It reads the environment itself, in init, because it has no other way
// in; it also turns on mutex and block profiling.
package pprofserve

import (
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"
)

// Env names the variable holding the listen address, such as
// 127.0.0.1:6060.
const Env = "GAMEPIPE_PPROF_ADDR"

func init() {
	addr := os.Getenv(Env)
	if addr == "" {
		return
	}
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	srv := &http.Server{Addr: addr, Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
}

// Handler serves the pprof endpoints under /debug/pprof/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Package generaitivsim simulates the Generaitiv API (Generaitiv's API documentation)
// over real HTTP and a real websocket: the search, token, upload, user,
// collection and training routes with the document's shapes, and AI
// generations completed by webhook or followed over the websocket. The
// image behind a completion link is a real PNG of the requested size.
//
// It follows the document alone and imports only the standard library, the
// websocket library and x/crypto's Keccak (for checksum-case addresses),
// never gamepipe's client. Where the document is
// silent the simulator makes a choice, and docs/upstreams-generaitiv.md
// lists each one; the client relies on nothing else.
//
// Fault injection (Faults) lets a test make /consumer/gen answer 429 or
// 402, slow it down, deliver webhooks late, twice, or not at all, deliver
// the webhook before /consumer/gen has answered, and drop a websocket
// mid-stream.
package generaitivsim

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultAddr is where cmd/upstreamsim serves the simulator by default.
const DefaultAddr = "127.0.0.1:4102"

// DefaultWSAddr is where cmd/upstreamsim serves the websocket by default:
// an address of its own, as the document's websocket has a host of its own.
const DefaultWSAddr = "127.0.0.1:4103"

// FromEnv returns the simulator's listen address and handler as configured
// by the environment: GENERAITIV_SIM_ADDR (default 127.0.0.1:4102),
// GENERAITIV_SIM_SECONDS (how long a generation takes, default 3),
// GENERAITIV_SIM_KEYS (comma-separated accepted keys; empty accepts any
// non-empty Bearer key), GENERAITIV_SIM_RATE (generations per second per
// key, default 10), GENERAITIV_SIM_PAYMENT_REQUIRED (1: every generation is
// refused with 402), GENERAITIV_SIM_VARIATIONS (1: answer with the
// variations the document allows). The websocket is served on
// GENERAITIV_SIM_WS_ADDR (default 127.0.0.1:4103) only, by a listener
// opened here that lives as long as the process; set it to the main
// address to serve both on one port.
func FromEnv(getenv func(string) string) (addr string, h http.Handler, err error) {
	addr = cmp.Or(getenv("GENERAITIV_SIM_ADDR"), DefaultAddr)
	cfg := &Config{}
	if v := getenv("GENERAITIV_SIM_SECONDS"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs <= 0 {
			return "", nil, fmt.Errorf("GENERAITIV_SIM_SECONDS: want a positive number, got %q", v)
		}
		cfg.GenerationTime = time.Duration(secs * float64(time.Second))
	}
	if v := getenv("GENERAITIV_SIM_KEYS"); v != "" {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				cfg.Keys = append(cfg.Keys, k)
			}
		}
	}
	if v := getenv("GENERAITIV_SIM_RATE"); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 {
			return "", nil, fmt.Errorf("GENERAITIV_SIM_RATE: want a positive number, got %q", v)
		}
		cfg.GenRate = rate
	}
	switch v := getenv("GENERAITIV_SIM_PAYMENT_REQUIRED"); v {
	case "", "0", "false":
	case "1", "true":
		cfg.PaymentRequired = true
	default:
		return "", nil, fmt.Errorf("GENERAITIV_SIM_PAYMENT_REQUIRED: want 0 or 1, got %q", v)
	}
	switch v := getenv("GENERAITIV_SIM_VARIATIONS"); v {
	case "", "0", "false":
	case "1", "true":
		cfg.Variations = true
	default:
		return "", nil, fmt.Errorf("GENERAITIV_SIM_VARIATIONS: want 0 or 1, got %q", v)
	}
	ws := cmp.Or(getenv("GENERAITIV_SIM_WS_ADDR"), DefaultWSAddr)
	cfg.SeparateWebsocket = ws != addr
	srv := New(cfg)
	if cfg.SeparateWebsocket {
		ln, err := net.Listen("tcp", ws)
		if err != nil {
			return "", nil, fmt.Errorf("error listening on GENERAITIV_SIM_WS_ADDR %s: %w", ws, err)
		}
		wsSrv := &http.Server{Handler: srv.WebsocketHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := wsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				srv.logf("generaitivsim: websocket listener: %v", err)
			}
		}()
	}
	return addr, srv, nil
}

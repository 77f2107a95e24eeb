package kinetixsim

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultAddr is where cmd/upstreamsim serves the simulator by default.
const DefaultAddr = "127.0.0.1:4101"

// FromEnv returns the simulator's listen address and handler as configured
// by the environment:
//
//	KINETIX_SIM_ADDR             listen address (default 127.0.0.1:4101)
//	KINETIX_SIM_PROCESS_SECONDS  how long a process takes (default 3; decimals allowed)
//	KINETIX_SIM_KEYS             comma-separated accepted keys (default: any non-empty key)
//	KINETIX_SIM_VALIDATION_KEYS  comma-separated keys with the validation flow ("*": all)
//	KINETIX_SIM_TOKEN_TTL        token lifetime, a Go duration (default 5m)
//	KINETIX_SIM_LATENCY          added to every request, a Go duration
//	KINETIX_SIM_FAULTS           fault rules, see ParseFaults
//	KINETIX_SIM_GAME_KEYS        comma-separated GameAPIKeys, the only keys POST /v1/plans takes (default: any key)
//	KINETIX_SIM_DEFAULT_WORLD    key of virtual world 1, for QR codes naming no world (default: the first key)
//	KINETIX_SIM_VARIATIONS       1: answer with the variations the document allows
func FromEnv(getenv func(string) string) (addr string, h http.Handler, err error) {
	cfg := &Config{
		Keys:            splitList(getenv("KINETIX_SIM_KEYS")),
		ValidationKeys:  splitList(getenv("KINETIX_SIM_VALIDATION_KEYS")),
		GameKeys:        splitList(getenv("KINETIX_SIM_GAME_KEYS")),
		DefaultWorldKey: getenv("KINETIX_SIM_DEFAULT_WORLD"),
	}
	switch v := getenv("KINETIX_SIM_VARIATIONS"); v {
	case "", "0", "false":
	case "1", "true":
		cfg.Variations = true
	default:
		return "", nil, fmt.Errorf("KINETIX_SIM_VARIATIONS: want 0 or 1, got %q", v)
	}
	if v := getenv("KINETIX_SIM_PROCESS_SECONDS"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs <= 0 {
			return "", nil, fmt.Errorf("KINETIX_SIM_PROCESS_SECONDS: want a positive number of seconds, got %q", v)
		}
		cfg.ProcessDuration = time.Duration(secs * float64(time.Second))
	}
	if cfg.TokenTTL, err = envDuration(getenv, "KINETIX_SIM_TOKEN_TTL"); err != nil {
		return "", nil, err
	}
	if cfg.Latency, err = envDuration(getenv, "KINETIX_SIM_LATENCY"); err != nil {
		return "", nil, err
	}
	if cfg.Faults, err = ParseFaults(getenv("KINETIX_SIM_FAULTS")); err != nil {
		return "", nil, fmt.Errorf("KINETIX_SIM_FAULTS: %w", err)
	}
	return cmp.Or(getenv("KINETIX_SIM_ADDR"), DefaultAddr), New(cfg), nil
}

// ParseFaults reads fault rules separated by ";", each
// ROUTE=KIND[*COUNT][@ARG]: ROUTE is a route pattern or "*"; KIND is
// latency, 429, a 5xx status (500–599), timeout, fail or stuck; COUNT is how
// many requests (or processes) it applies to (default: all); ARG is the
// delay for latency and timeout, or Retry-After for 429 (Go durations).
// For example:
//
//	POST /v1/process=429*10@1s;GET /v1/process/{uuid}=503*3;*=latency@50ms;POST /v1/process=fail*1
func ParseFaults(s string) ([]Fault, error) {
	var faults []Fault
	for _, rule := range strings.Split(s, ";") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		route, spec, ok := strings.Cut(rule, "=")
		if !ok {
			return nil, fmt.Errorf("rule %q: want ROUTE=KIND[*COUNT][@ARG]", rule)
		}
		f := Fault{Route: strings.TrimSpace(route)}
		spec, arg, hasArg := strings.Cut(strings.TrimSpace(spec), "@")
		kind, count, hasCount := strings.Cut(spec, "*")
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("rule %q: bad count %q", rule, count)
			}
			f.Count = n
		}
		switch kind {
		case "latency", "timeout", "fail", "stuck", "429":
			f.Kind = FaultKind(kind)
		default:
			status, err := strconv.Atoi(kind)
			if err != nil || status < 500 || status > 599 {
				return nil, fmt.Errorf("rule %q: unknown kind %q", rule, kind)
			}
			f.Kind, f.Status = FaultServerError, status
		}
		if hasArg {
			d, err := time.ParseDuration(arg)
			if err != nil {
				return nil, fmt.Errorf("rule %q: bad duration %q", rule, arg)
			}
			if f.Kind == FaultRateLimit {
				f.RetryAfter = d
			} else {
				f.Delay = d
			}
		}
		faults = append(faults, f)
	}
	return faults, nil
}

func envDuration(getenv func(string) string, name string) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: want a Go duration such as 5m, got %q", name, v)
	}
	return d, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

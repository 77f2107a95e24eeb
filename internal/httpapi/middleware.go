package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// statusRecorder remembers the status code for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe is the outermost middleware: request id, a logger carrying it,
// panic recovery (a JSON 500, never a crashed connection), access log and
// metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		logger := s.logger.With().Str("request_id", id).Logger()
		ctx, cancel := context.WithTimeout(logger.WithContext(r.Context()), s.cfg.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.Error().Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).Msg("httpapi: panic serving request")
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, newError(http.StatusInternalServerError, "internal_error", "internal server error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
			s.metrics.HTTPDuration.WithLabelValues(route).Observe(elapsed.Seconds())
			if route != "GET /healthz" && route != "GET /readyz" {
				logger.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.status).
					Dur("duration", elapsed).Msg("httpapi: request")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// requestID keeps a client's X-Request-Id when it is short and printable,
// and otherwise makes one.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 {
		ok := true
		for i := 0; i < n; i++ {
			c := given[i]
			if c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return given
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// rateLimited refuses requests past the per-source-IP limit with 429.
func (s *Server) rateLimited(next http.HandlerFunc) http.HandlerFunc {
	return s.limitedBy(s.limiter, nil, next)
}

// ingestLimited is rateLimited for the ingestion routes: a refused request
// whose public token the key cache holds counts as one of its app's
// rejected events (Deps.Rejections); any other counts in the metric alone.
func (s *Server) ingestLimited(next http.HandlerFunc) http.HandlerFunc {
	return s.limitedBy(s.limiter, s.auth.cachedPublicApp, next)
}

// webhookLimited is rateLimited with the webhook receivers' own limit.
func (s *Server) webhookLimited(next http.HandlerFunc) http.HandlerFunc {
	return s.limitedBy(s.webhookLimiter, nil, next)
}

// limitedBy refuses requests past l's per-source-IP limit with 429. app,
// when not nil, names the app a refused request counts for, if it can.
func (s *Server) limitedBy(l *ratelimit.Limiter, app func(*http.Request) *store.KeyInfo, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := s.cfg.ClientIP.FromRequest(r)
		if ok, wait := l.Allow(ip, time.Now()); !ok {
			var info *store.KeyInfo
			if app != nil && s.rejections != nil {
				info = app(r)
			}
			s.countRejected(info, 1, "rate_limited")
			e := newError(http.StatusTooManyRequests, "rate_limited", "too many requests from this address; retry after the Retry-After delay")
			e.RetryAfter = ratelimit.RetryAfterSeconds(wait)
			writeError(w, r, e)
			return
		}
		next(w, r)
	}
}

// Package upstream holds what gamepipe's upstream API clients (Kinetix,
// Generaitiv) share: one error type that tells retryable failures (429, 5xx,
// network, timeouts) from permanent ones (other 4xx), Retry-After parsing,
// and bounded reading of error bodies.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Error is a failed upstream call.
type Error struct {
	// Service is "kinetix" or "generaitiv".
	Service string
	// Op names the call, such as "POST /v1/process".
	Op string
	// Status is the HTTP status, or 0 for a network failure or timeout.
	Status int
	// Code is the upstream's error code where its body names one.
	Code string
	// Message is the upstream's message or a summary of the body (never
	// request headers or keys).
	Message string
	// RetryAfter is the upstream's Retry-After, if it sent one.
	RetryAfter time.Duration
	// Err is the underlying network error, if any.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0 && e.Err != nil:
		return fmt.Sprintf("%s %s: %v", e.Service, e.Op, e.Err)
	case e.Message != "":
		return fmt.Sprintf("%s %s: status %d: %s", e.Service, e.Op, e.Status, e.Message)
	default:
		return fmt.Sprintf("%s %s: status %d", e.Service, e.Op, e.Status)
	}
}

// Unwrap returns the network error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same call may succeed later: 408, 425,
// 429, 5xx, network failures and timeouts.
func (e *Error) Retryable() bool {
	switch {
	case e.Status == 0:
		return true
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooEarly, e.Status == http.StatusTooManyRequests:
		return true
	case e.Status >= 500:
		return true
	}
	return false
}

// RateLimited reports a 429.
func (e *Error) RateLimited() bool { return e.Status == http.StatusTooManyRequests }

// IsRetryable reports whether err is an upstream error worth retrying.
// Errors that are not *Error are treated as retryable (a context deadline, a
// broken connection): permanent failures are always typed.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable()
	}
	return err != nil && !errors.Is(err, context.Canceled)
}

// IsStatus reports whether err is an upstream error with that status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// RetryAfterOf returns the Retry-After an upstream error carried.
func RetryAfterOf(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Unparsable or past values give 0. The result is capped at an hour.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 8 << 10

// FromResponse builds the Error for a non-2xx response, reading at most
// 8 KiB of its body; parse, when set, extracts code and message from it.
// It does not close the body.
func FromResponse(service, op string, resp *http.Response, parse func(body []byte) (code, message string)) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Service: service, Op: op, Status: resp.StatusCode,
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if parse != nil {
		e.Code, e.Message = parse(body)
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "…"
		}
	}
	return e
}

// FromTransport wraps a transport failure (connection refused, reset,
// timeout) as a retryable Error. A cancelled context stays as it is. A
// *url.Error's URL is dropped: URLs carry secrets (Kinetix's token status
// path, Generaitiv's websocket jwt and signed upload URLs), and these
// errors end up in logs and job rows.
func FromTransport(service, op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		err = urlErr.Err
	}
	return &Error{Service: service, Op: op, Err: err}
}

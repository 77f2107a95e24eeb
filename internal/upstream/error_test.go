package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestError(t *testing.T) {
	t.Parallel()

	tests := []struct {
		status    int
		retryable bool
	}{
		{400, false}, {401, false}, {402, false}, {403, false}, {404, false}, {422, false},
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true}, {0, true},
	}
	for _, tt := range tests {
		e := &Error{Service: "s", Op: "GET /x", Status: tt.status}
		require.Equal(t, tt.retryable, e.Retryable(), "status %d", tt.status)
		require.Equal(t, tt.retryable, IsRetryable(fmt.Errorf("wrapped: %w", e)), "status %d", tt.status)
	}
	require.False(t, IsRetryable(context.Canceled))
	require.True(t, IsStatus(fmt.Errorf("x: %w", &Error{Status: 402}), 402))

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 3*time.Second, ParseRetryAfter("3", now))
	require.Equal(t, 10*time.Second, ParseRetryAfter(now.Add(10*time.Second).Format(http.TimeFormat), now))
	require.Zero(t, ParseRetryAfter("soon", now))
	require.Zero(t, ParseRetryAfter("-5", now))
	require.Equal(t, time.Hour, ParseRetryAfter("999999", now))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"message":"slow down"}`))
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	e := FromResponse("s", "GET /", resp, nil)
	require.True(t, e.RateLimited())
	d, ok := RetryAfterOf(e)
	require.True(t, ok)
	require.Equal(t, 2*time.Second, d)
	require.Contains(t, e.Error(), "slow down")

	netErr := FromTransport("s", "GET /", errors.New("connection refused"))
	require.True(t, IsRetryable(netErr))
	require.ErrorIs(t, FromTransport("s", "GET /", context.Canceled), context.Canceled)
}

// A transport error never carries the request's URL: it may hold a secret.
func TestFromTransportDropsURL(t *testing.T) {
	t.Parallel()
	secret := "https://ws.example/v1?jwt=s3cr3t"
	cause := errors.New("connection refused")
	wrapped := fmt.Errorf("failed to dial: %w", &url.Error{Op: "Get", URL: secret, Err: cause})
	err := FromTransport("s", "websocket", wrapped)
	require.NotContains(t, err.Error(), "s3cr3t")
	require.ErrorIs(t, err, cause)
	var ue *Error
	require.ErrorAs(t, err, &ue)
	require.True(t, ue.Retryable())
}

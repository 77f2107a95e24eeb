package testutil

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ReadyTimeout bounds WaitReady: long enough for a process to connect to
// Postgres and NATS on a busy machine.
const ReadyTimeout = 30 * time.Second

// WaitReady polls GET http://addr/readyz until it answers 200, failing the
// test after ReadyTimeout, and returns that answer's body.
func WaitReady(tb testing.TB, addr string) string {
	tb.Helper()
	var body string
	require.Eventually(tb, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		body = string(raw)
		return err == nil && resp.StatusCode == http.StatusOK
	}, ReadyTimeout, 50*time.Millisecond, "http://%s/readyz never answered 200", addr)
	return body
}

package testutil

import (
	"testing"
	"time"
)

// WaitFor polls fn every 20ms until it returns nil, failing the test with
// fn's last error once timeout has passed. It waits on external state
// (rows, consumer info, files); give it a timeout well past every interval
// involved, as it asserts no speed.
func WaitFor(tb testing.TB, timeout time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not done after %s: %v", timeout, err)
		}
		<-ticker.C
	}
}

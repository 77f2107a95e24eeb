package blobtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A weed that dies while starting fails the start with its log, and its
// cleanup returns (it once waited forever for an exit already taken); one
// that found a port taken is tried again on other ports.
func TestStartS3WhenWeedExits(t *testing.T) {
	fake := func(t *testing.T, script string) string {
		t.Helper()
		dir := t.TempDir()
		p := filepath.Join(dir, "weed")
		runs := filepath.Join(dir, "runs")
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho run >> "+runs+"\n"+script), 0o755))
		t.Setenv("WEED_BIN", p)
		return runs
	}
	starts := func(t *testing.T, runs string) int {
		t.Helper()
		b, err := os.ReadFile(runs)
		require.NoError(t, err)
		return strings.Count(string(b), "run\n")
	}

	t.Run("Crash", func(t *testing.T) {
		runs := fake(t, "echo 'F1205 something broke' >&2\nexit 3\n")
		var err error
		t.Run("Start", func(t *testing.T) { _, err = startS3(t) }) // its cleanup runs at its end
		require.ErrorContains(t, err, "weed exited")
		require.ErrorContains(t, err, "something broke")
		require.False(t, errors.Is(err, errPortTaken))
		require.Equal(t, 1, starts(t, runs))
	})

	t.Run("PortTaken", func(t *testing.T) {
		runs := fake(t, "echo 'F1205 failed to listen on grpc port 1: listen tcp 127.0.0.1:1: bind: address already in use' >&2\nexit 255\n")
		var err error
		t.Run("Start", func(t *testing.T) { _, err = startS3(t) })
		require.ErrorIs(t, err, errPortTaken)
		require.Equal(t, s3StartAttempts, starts(t, runs))
	})
}

package benchrun

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCPU(t *testing.T) {
	t.Parallel()

	t.Run("ReadsThisProcessAndTheMachine", func(t *testing.T) {
		t.Parallel()

		for start := time.Now(); procCPU(os.Getpid()) == 0 && time.Since(start) < 5*time.Second; {
			// burn a little CPU so that this process has used some
		}
		require.Positive(t, procCPU(os.Getpid()))
		busy, total := machineCPU()
		require.Positive(t, total)
		require.LessOrEqual(t, busy, total)
		require.Zero(t, procCPU(-1), "no such process")
	})

	t.Run("Since", func(t *testing.T) {
		t.Parallel()

		t0 := time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)
		before := cpuSnapshot{at: t0, procs: map[string]map[int]float64{"api": {10: 1}}, busy: 100, total: 200}
		after := cpuSnapshot{at: t0.Add(2 * time.Second), procs: map[string]map[int]float64{
			"api":      {10: 2},          // 1 s of CPU in 2 s: 50%
			"postgres": {20: 0.5, 21: 1}, // new backends count from their start
		}, busy: 103, total: 204}
		got := after.since(before)
		require.Equal(t, "CPU api 50%, postgres 75%; others 25%; machine 150% of 200% busy", got)
	})

	t.Run("PerOpList", func(t *testing.T) {
		t.Parallel()

		// 2 s at 10,000 operations/s: 0.4 s of CPU is 20 µs per operation.
		u := cpuUse{secs: map[string]float64{"natsd": 0.4, "api": 0.25, "minimal": 0.0005}, wall: 2}
		require.Equal(t, "api 12.5, natsd 20.0 µs", u.perOpList(10000), "a process that did nothing is left out")
	})
}

func TestChild(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	c, err := startChild("sleeper", "/bin/sh", []string{"-c", "echo started; exec sleep 60"}, nil, dir)
	require.NoError(t, err)
	peak, current, err := procMemory(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, peak)
	require.Positive(t, current)
	require.False(t, c.exited())
	require.Eventually(t, func() bool { return strings.Contains(tail(c.logPath, 1), "started") }, 10*time.Second, 10*time.Millisecond)
	c.stop(5 * time.Second)
	require.True(t, c.exited())
	require.Contains(t, c.exitError().Error(), "started")

	_, err = startChild("missing", "/nonexistent/binary", nil, nil, dir)
	require.Error(t, err)
	require.True(t, strings.Contains(tail("/nonexistent", 3), "no such file"))
}

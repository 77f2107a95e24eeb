package devrun

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/testutil"
)

// shProc is a process running a shell script.
func shProc(name, script string) *Process {
	return &Process{Name: name, Path: "/bin/sh", Args: []string{"-c", script}, Env: os.Environ()}
}

// politeScript says "up" (and touches upFile), then runs until SIGTERM, on
// which it says "bye" and exits 0.
func politeScript(upFile string) string {
	return `trap 'echo bye; exit 0' TERM; echo up; touch ` + upFile + `; while :; do sleep 0.05; done`
}

// waitFile waits for a file the scripts create to say they are ready.
func waitFile(path string) string {
	return `while [ ! -e ` + path + ` ]; do sleep 0.02; done`
}

func requireSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
}

func TestSupervisor_ChildDiesOthersStopped(t *testing.T) {
	t.Parallel()
	requireSh(t)
	dir := t.TempDir()
	up := filepath.Join(dir, "up")

	var out testutil.SyncBuffer
	sup := &Supervisor{Out: NewOutput(&out, 8, false), StopTimeout: 5 * time.Second}
	polite := shProc("worker", politeScript(up))
	dying := shProc("api", waitFile(up)+`; echo "fatal: cannot bind" >&2; exit 3`)

	err := sup.Run(context.Background(), []*Process{polite, dying})

	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, "api", exitErr.Name)
	require.Equal(t, "api exited: exit status 3", err.Error())
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 3, ee.ExitCode())

	require.True(t, polite.Exited(), "the other process is stopped")
	require.NoError(t, polite.Err(), "it got SIGTERM and exited 0 from its trap")
	require.NotContains(t, out.String(), "killed it", "stopped by SIGTERM, not by the kill timeout")
	require.Contains(t, out.String(), "api      | fatal: cannot bind\n")
	require.Contains(t, out.String(), "devrun   | api exited: exit status 3; stopping the others\n")
	require.Contains(t, out.String(), "worker   | bye\n")
}

func TestSupervisor_ZeroExitIsUnexpected(t *testing.T) {
	t.Parallel()
	requireSh(t)
	var out testutil.SyncBuffer
	sup := &Supervisor{Out: NewOutput(&out, 8, false), StopTimeout: 5 * time.Second}
	err := sup.Run(context.Background(), []*Process{shProc("exporter", "exit 0")})
	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr)
	require.NoError(t, exitErr.Err)
	require.Equal(t, "exporter exited with status 0 before it was asked to stop", err.Error())
}

func TestSupervisor_DepDiesServicesStopped(t *testing.T) {
	t.Parallel()
	requireSh(t)
	dir := t.TempDir()
	up := filepath.Join(dir, "up")

	var out testutil.SyncBuffer
	o := NewOutput(&out, 8, false)
	dep := shProc("natsd", waitFile(up)+"; exit 1")
	require.NoError(t, dep.Start(o))
	svc := shProc("api", politeScript(up))

	err := (&Supervisor{Out: o, StopTimeout: 5 * time.Second}).Run(context.Background(), []*Process{svc}, dep)
	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, "natsd", exitErr.Name)
	require.True(t, svc.Exited())
	require.Contains(t, out.String(), "api      | bye\n")
}

func TestSupervisor_StopOnContext(t *testing.T) {
	t.Parallel()
	requireSh(t)
	dir := t.TempDir()
	upA, upB := filepath.Join(dir, "a"), filepath.Join(dir, "b")

	var out testutil.SyncBuffer
	sup := &Supervisor{Out: NewOutput(&out, 8, false), StopTimeout: 5 * time.Second}
	a, b := shProc("api", politeScript(upA)), shProc("worker", politeScript(upB))
	dep := shProc("natsd", "sleep 30")
	require.NoError(t, dep.Start(sup.Out))
	t.Cleanup(func() { dep.Stop(time.Second) })

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for _, f := range []string{upA, upB} {
			for {
				if _, err := os.Stat(f); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		cancel()
	}()
	require.NoError(t, sup.Run(ctx, []*Process{a, b}, dep))
	require.True(t, a.Exited())
	require.True(t, b.Exited())
	require.False(t, dep.Exited(), "deps are the caller's to stop")
	require.NotContains(t, out.String(), "devrun", "a requested stop is quiet")
	require.Equal(t, 1, strings.Count(out.String(), "api      | bye\n"), "one SIGTERM, one goodbye")
}

func TestSupervisor_KillsAfterStopTimeout(t *testing.T) {
	t.Parallel()
	requireSh(t)
	dir := t.TempDir()
	up := filepath.Join(dir, "up")

	var out testutil.SyncBuffer
	sup := &Supervisor{Out: NewOutput(&out, 8, false), StopTimeout: 300 * time.Millisecond}
	// Ignoring SIGTERM is inherited by sleep, so the whole group ignores it.
	stubborn := shProc("worker", `trap '' TERM; touch `+up+`; while :; do sleep 0.05; done`)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if _, err := os.Stat(up); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	// The process never exits by itself: Run returning means it killed it.
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx, []*Process{stubborn}) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("Run never killed the process that ignores SIGTERM")
	}
	require.True(t, stubborn.Exited())
	require.Contains(t, out.String(), "devrun   | worker did not stop within 300ms after SIGTERM; killed it\n")
}

func TestSupervisor_StartFailureStopsStarted(t *testing.T) {
	t.Parallel()
	requireSh(t)
	dir := t.TempDir()

	var out testutil.SyncBuffer
	sup := &Supervisor{Out: NewOutput(&out, 8, false), StopTimeout: 5 * time.Second}
	started := shProc("api", politeScript(filepath.Join(dir, "up")))
	missing := &Process{Name: "worker", Path: filepath.Join(dir, "no-such-binary")}

	err := sup.Run(context.Background(), []*Process{started, missing})
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
	require.True(t, started.Exited())
}

func TestStopAll_NeverStarted(t *testing.T) {
	t.Parallel()
	require.Empty(t, StopAll([]*Process{{Name: "x"}}, time.Millisecond))
}

package export

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// TestManifestUpdateCost: a flush into an open day costs what it adds, not
// what the day holds. Over hundreds of one-file flushes into one day,
// manifest.json is rewritten a handful of times, the manifest files take
// a bounded number of bytes per flush, and the manifest still lists exactly
// the day's files.
func TestManifestUpdateCost(t *testing.T) {
	t.Parallel()

	const flushes = 300
	bundle := newStream(t, 30*time.Second)
	dir := t.TempDir()
	hour := time.Now().UTC().Truncate(time.Hour)
	events := make([]telemetry.Event, flushes)
	for i := range events {
		events[i] = testEvent(appA, telemetry.KindGameplay, hour.Add(time.Duration(i)*time.Millisecond))
	}
	dayDir := DayDir(dir, appA, telemetry.KindGameplay, hour)

	// After each flush (its manifest update done, nothing acked yet), see
	// what the manifest files became.
	var (
		mu        sync.Mutex
		seen      int
		rewrites  int
		written   int64
		lastIno   uint64
		lastLogSz int64
	)
	observe := func(p FaultPoint) error {
		if p != FaultBeforeAck {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if info, err := os.Stat(filepath.Join(dayDir, ManifestName)); err == nil {
			if ino := info.Sys().(*syscall.Stat_t).Ino; ino != lastIno {
				lastIno = ino
				rewrites++
				written += info.Size()
			}
		}
		var logSz int64
		if info, err := os.Stat(filepath.Join(dayDir, ManifestLogName)); err == nil {
			logSz = info.Size()
		}
		if logSz >= lastLogSz {
			written += logSz - lastLogSz
		} else {
			written += logSz // folded, then a new log
		}
		lastLogSz = logSz
		return nil
	}
	// One file per event: every event fills its buffer.
	bundle.start(t, &Config{Dir: dir, MaxFileBytes: 1, MaxAge: time.Hour, CompleteGrace: 2 * time.Hour, Fault: observe})
	bundle.publish(t, events...)
	testutil.WaitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if seen < flushes {
			return fmt.Errorf("%d flushes", seen)
		}
		return nil
	})

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, flushes, seen)
	require.LessOrEqual(t, rewrites, 12, "manifest.json is rewritten a handful of times, not once per flush")
	require.LessOrEqual(t, written, int64(flushes)*1024, "the manifest files grow by a bounded amount per flush")
	requireManifest(t, dayDir)
	m, err := ReadManifest(dayDir)
	require.NoError(t, err)
	require.Len(t, m.Files, flushes)
	require.Equal(t, int64(flushes), m.Lines)
}

func TestManifestLog(t *testing.T) {
	t.Parallel()

	entry := func(dir string, i int) ManifestFile {
		name := fileName(0, i)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
		return ManifestFile{Name: name, Lines: int64(i + 1), Bytes: 1, SHA256: "00"}
	}
	update := func(dir string, add ...ManifestFile) *manifestUpdate {
		return &manifestUpdate{dir: dir, appID: appA, kind: telemetry.KindGameplay, day: filepath.Base(dir),
			add: add, orphanAge: time.Hour, now: time.Now().UTC()}
	}

	t.Run("FirstFilesWriteManifestJSON", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, appendManifest(update(dir, entry(dir, 0))))
		m, err := readManifestFile(dir)
		require.NoError(t, err)
		require.Len(t, m.Files, 1)
		require.NoFileExists(t, filepath.Join(dir, ManifestLogName))
	})

	t.Run("PartialLineOfACrashIsSkipped", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, appendManifest(update(dir, entry(dir, 0))))
		require.NoError(t, appendManifest(update(dir, entry(dir, 1))))
		f, err := os.OpenFile(filepath.Join(dir, ManifestLogName), os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.WriteString(`{"name":"00-000002.ndjson.gz","li`) // the crash
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.NoError(t, appendManifest(update(dir, entry(dir, 3))))

		m, err := ReadManifest(dir)
		require.NoError(t, err)
		names := []string{}
		for _, f := range m.Files {
			names = append(names, f.Name)
		}
		require.Equal(t, []string{fileName(0, 0), fileName(0, 1), fileName(0, 3)}, names)
		require.Equal(t, int64(1+2+4), m.Lines)
	})

	t.Run("UpdateFoldsTheLog", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for i := range 5 {
			require.NoError(t, appendManifest(update(dir, entry(dir, i))))
		}
		require.FileExists(t, filepath.Join(dir, ManifestLogName))
		u := update(dir)
		u.complete = true
		m, err := updateManifest(u)
		require.NoError(t, err)
		require.True(t, m.Complete)
		require.NoFileExists(t, filepath.Join(dir, ManifestLogName))
		onDisk, err := readManifestFile(dir)
		require.NoError(t, err)
		require.Len(t, onDisk.Files, 5, "a complete manifest.json is whole by itself")
		read, err := ReadManifest(dir)
		require.NoError(t, err)
		require.Equal(t, onDisk.Files, read.Files)
	})
}

package export

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// File names of the export layout; see the package doc.
const (
	// FileSuffix ends every data file's name.
	FileSuffix = ".ndjson.gz"
	// ManifestName is the name of a day's manifest.
	ManifestName = "manifest.json"

	lockName  = ".manifest.lock"
	tmpMarker = ".tmp-"
	seqWidth  = 6
)

// DayDir is the directory of one app's, kind's and day's files. day is
// taken in UTC.
func DayDir(root, appID string, kind telemetry.Kind, day time.Time) string {
	return filepath.Join(root, appID, string(kind), dayName(day))
}

// dayName is a day directory's name, yyyy-mm-dd in UTC.
func dayName(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}

// fileName is a data file's name: <hh>-<seq>.ndjson.gz.
func fileName(hour, seq int) string {
	return fmt.Sprintf("%02d-%0*d%s", hour, seqWidth, seq, FileSuffix)
}

// parseFileName returns the hour and sequence number of a data file's name;
// ok is false for anything else (manifests, temporary files, strangers).
func parseFileName(name string) (hour, seq int, ok bool) {
	base, found := strings.CutSuffix(name, FileSuffix)
	if !found || len(base) < 4 || base[2] != '-' {
		return 0, 0, false
	}
	h, err := strconv.Atoi(base[:2])
	if err != nil || h < 0 || h > 23 {
		return 0, 0, false
	}
	s, err := strconv.Atoi(base[3:])
	if err != nil || s < 0 {
		return 0, 0, false
	}
	return h, s, true
}

// tempName is a unique temporary name beside final.
func tempName(final string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return final + tmpMarker + hex.EncodeToString(b[:])
}

// isTemp reports whether name is a temporary file of this package.
func isTemp(name string) bool {
	return strings.Contains(name, tmpMarker)
}

// safeSegment reports whether s can be used as one path segment: the app id
// comes from the event, so it must not climb out of the export root.
func safeSegment(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 200 && !strings.ContainsAny(s, "/\\\x00")
}

// ensureDir creates dir and any missing parents, fsyncing the parent of
// every directory it creates so the new entries survive a crash.
func ensureDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("error creating directory %s: not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := ensureDir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("error creating directory %s: %w", dir, err)
	}
	return syncDir(parent)
}

// syncDir fsyncs a directory, making renames and links in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("error opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("error syncing directory %s: %w", dir, err)
	}
	return nil
}

// nextSeqs returns, for each hour, the next sequence number after the
// highest one already in dir.
func nextSeqs(dir string) (map[int]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("error listing %s: %w", dir, err)
	}
	next := make(map[int]int)
	for _, e := range entries {
		if h, s, ok := parseFileName(e.Name()); ok && s+1 > next[h] {
			next[h] = s + 1
		}
	}
	return next, nil
}

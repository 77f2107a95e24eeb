package export

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Manifest describes one app's, kind's and day's files: manifest.json in the
// day's directory. See the package doc for when Complete is set.
type Manifest struct {
	// AppID, Kind and Day (yyyy-mm-dd, UTC) name the directory.
	AppID string         `json:"app_id"`
	Kind  telemetry.Kind `json:"kind"`
	Day   string         `json:"day"`
	// Complete is true once no more lines are expected for the day.
	Complete bool `json:"complete"`
	// CompletedAt is when Complete was set.
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// UpdatedAt is the time of the last rewrite.
	UpdatedAt time.Time `json:"updated_at"`
	// Lines is the sum of the files' lines.
	Lines int64 `json:"lines"`
	// Files are the day's data files, sorted by name.
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one data file in a Manifest.
type ManifestFile struct {
	// Name is the file's name in the day directory.
	Name string `json:"name"`
	// Lines is the number of NDJSON lines (events) in the file.
	Lines int64 `json:"lines"`
	// Bytes is the size of the gzip file.
	Bytes int64 `json:"bytes"`
	// SHA256 is the hex SHA-256 of the gzip file's bytes.
	SHA256 string `json:"sha256"`
}

// ReadManifest reads dayDir's manifest: manifest.json with the entries of
// the manifest log applied (see ManifestLogName). A missing manifest is an
// error wrapping fs.ErrNotExist.
func ReadManifest(dayDir string) (*Manifest, error) {
	m, err := readManifestFile(dayDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	logged, lerr := readLog(dayDir)
	switch {
	case lerr != nil:
		return nil, lerr
	case err != nil && len(logged) == 0:
		return nil, err
	case err != nil:
		// Only a log (manifest.json removed by hand): the directory names
		// the day.
		kindDir := filepath.Dir(dayDir)
		m = &Manifest{AppID: filepath.Base(filepath.Dir(kindDir)), Kind: telemetry.Kind(filepath.Base(kindDir)), Day: filepath.Base(dayDir)}
	}
	if len(logged) > 0 {
		m.apply(logged, nil)
		if info, err := os.Stat(filepath.Join(dayDir, ManifestLogName)); err == nil && info.ModTime().After(m.UpdatedAt) {
			m.UpdatedAt = info.ModTime().UTC()
		}
	}
	return m, nil
}

// readManifestFile reads manifest.json alone.
func readManifestFile(dayDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dayDir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("error reading manifest: %w", err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("error decoding manifest in %s: %w", dayDir, err)
	}
	return m, nil
}

// apply adds files to m's list, each replacing an entry of the same name,
// keeps only the names present says are there (all when present is nil),
// sorts the list by name and recounts the lines.
func (m *Manifest) apply(files []ManifestFile, present map[string]bool) {
	byName := make(map[string]ManifestFile, len(m.Files)+len(files))
	for _, f := range m.Files {
		byName[f.Name] = f
	}
	for _, f := range files {
		byName[f.Name] = f
	}
	m.Files, m.Lines = m.Files[:0], 0
	for name, f := range byName {
		if present == nil || present[name] {
			m.Files = append(m.Files, f)
			m.Lines += f.Lines
		}
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return cmp.Compare(a.Name, b.Name) })
}

// manifestUpdate is one change to a day's manifest.
type manifestUpdate struct {
	dir   string
	appID string
	kind  telemetry.Kind
	day   string
	// add are files just written (replacing entries of the same name).
	add []ManifestFile
	// orphanAge: files in dir that the manifest misses are read and listed
	// when at least this old; younger ones are probably being listed by
	// the exporter that wrote them. Zero lists them all.
	orphanAge time.Duration
	// complete sets Complete.
	complete bool
	now      time.Time
}

// updateManifest applies u under the day's lock and rewrites the manifest
// atomically, folding in the manifest log. It returns the manifest
// written. Its cost is that of the whole day (it lists the directory);
// a flush into a day still open appends instead (appendManifest).
func updateManifest(u *manifestUpdate) (*Manifest, error) {
	unlock, err := lockDir(u.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return rewriteManifest(u)
}

// rewriteManifest is updateManifest under the day's lock, held by the
// caller.
func rewriteManifest(u *manifestUpdate) (*Manifest, error) {
	m, err := ReadManifest(u.dir)
	if errors.Is(err, fs.ErrNotExist) {
		m, err = &Manifest{AppID: u.appID, Kind: u.kind, Day: u.day}, nil
	}
	if err != nil {
		return nil, err
	}
	byName := make(map[string]ManifestFile, len(m.Files)+len(u.add))
	for _, f := range m.Files {
		byName[f.Name] = f
	}
	for _, f := range u.add {
		byName[f.Name] = f
	}

	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return nil, fmt.Errorf("error listing %s: %w", u.dir, err)
	}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		if _, _, ok := parseFileName(e.Name()); !ok {
			continue
		}
		present[e.Name()] = true
		if _, listed := byName[e.Name()]; listed {
			continue
		}
		if info, err := e.Info(); err != nil || u.now.Sub(info.ModTime()) < u.orphanAge {
			continue
		}
		f, err := statDataFile(filepath.Join(u.dir, e.Name()))
		if err != nil {
			return nil, err
		}
		byName[f.Name] = f
	}

	// An entry whose file was removed by hand goes.
	m.Files = m.Files[:0]
	m.apply(slices.Collect(maps.Values(byName)), present)
	if u.complete && !m.Complete {
		m.Complete, m.CompletedAt = true, u.now
	}
	m.UpdatedAt = u.now

	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("error encoding manifest: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(u.dir, ManifestName), append(b, '\n')); err != nil {
		return nil, err
	}
	if err := removeLog(u.dir); err != nil {
		return nil, err
	}
	return m, nil
}

// lockDir takes an exclusive flock on dir's lock file, shared by every
// exporter (and backfill) writing the directory's manifest.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("error opening manifest lock in %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("error locking manifest in %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

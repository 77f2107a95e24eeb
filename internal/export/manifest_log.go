package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ManifestLogName is a day's manifest log: the files listed since
// manifest.json was last written, one ManifestFile as a JSON object per
// line, appended by each flush. A day's listing is manifest.json with the
// log's entries applied in order (an entry replaces one of the same name);
// ReadManifest does that. See the package doc.
const ManifestLogName = "manifest.log"

// logCompactMin is the smallest log folded into manifest.json. A log is
// folded once it is at least this large and at least as large as
// manifest.json, so manifest.json is rewritten each time the day's listing
// has grown by a constant fraction: every entry is copied a bounded number
// of times on average, whatever the day's file count.
const logCompactMin = 8 << 10

// appendManifest lists u.add in the day's manifest by appending them to its
// log, fsynced, under the day's lock: the cost is that of the entries added,
// not of the day's listing. The day's first files write manifest.json
// itself, so that it exists whenever the day has a file, and a log grown as
// large as manifest.json is folded into it (updateManifest). u.complete is
// ignored: completing a day goes through updateManifest.
func appendManifest(u *manifestUpdate) error {
	unlock, err := lockDir(u.dir)
	if err != nil {
		return err
	}
	defer unlock()

	info, err := os.Stat(filepath.Join(u.dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		_, err = rewriteManifest(u)
		return err
	}
	if err != nil {
		return fmt.Errorf("error reading manifest in %s: %w", u.dir, err)
	}
	logSize, err := appendLog(u.dir, u.add)
	if err != nil {
		return err
	}
	if logSize < max(info.Size(), logCompactMin) {
		return nil
	}
	// The entries are durable in the log already: a failed fold loses
	// nothing, and a later one retries.
	if _, err := rewriteManifest(&manifestUpdate{
		dir: u.dir, appID: u.appID, kind: u.kind, day: u.day, orphanAge: u.orphanAge, now: u.now,
	}); err != nil {
		return fmt.Errorf("error folding the manifest log: %w", err)
	}
	return nil
}

// appendLog appends files to dir's manifest log and fsyncs it (and dir,
// when the log is new). It returns the log's size after the append.
func appendLog(dir string, files []ManifestFile) (int64, error) {
	path := filepath.Join(dir, ManifestLogName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("error opening %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("error reading %s: %w", path, err)
	}
	size := info.Size()
	var buf bytes.Buffer
	if size > 0 {
		// A crash in an append can leave a partial last line (its files
		// were never acknowledged; a fold lists them as orphans): start on
		// a line of our own.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			return 0, fmt.Errorf("error reading %s: %w", path, err)
		}
		if last[0] != '\n' {
			buf.WriteByte('\n')
		}
	}
	enc := json.NewEncoder(&buf)
	for i := range files {
		if err := enc.Encode(&files[i]); err != nil {
			return 0, fmt.Errorf("error encoding manifest entry: %w", err)
		}
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("error appending to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("error syncing %s: %w", path, err)
	}
	if size == 0 {
		if err := syncDir(dir); err != nil {
			return 0, err
		}
	}
	return size + int64(buf.Len()), nil
}

// readLog returns the entries of dir's manifest log in order; a missing log
// has none. A line that does not decode (the partial last line of a
// crashed append) is skipped.
func readLog(dir string) ([]ManifestFile, error) {
	f, err := os.Open(filepath.Join(dir, ManifestLogName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading manifest log: %w", err)
	}
	defer f.Close()
	var out []ManifestFile
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var mf ManifestFile
			if json.Unmarshal(line, &mf) == nil && mf.Name != "" {
				out = append(out, mf)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("error reading manifest log in %s: %w", dir, err)
		}
	}
}

// removeLog removes dir's manifest log once manifest.json holds its
// entries. Should a crash bring it back, its entries are applied again,
// to the same effect.
func removeLog(dir string) error {
	err := os.Remove(filepath.Join(dir, ManifestLogName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error removing manifest log in %s: %w", dir, err)
	}
	return nil
}

package export

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxSeqTries bounds the search for a free sequence number when other
// exporters keep taking the next one.
const maxSeqTries = 1000

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

// Write implements io.Writer.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// gzipFile is a data file being written under a temporary name.
type gzipFile struct {
	final string
	tmp   string
	f     *os.File
	hash  hash.Hash
	count *countingWriter
	zw    *gzip.Writer
	lines int64
}

// createGzip starts a data file that will be named final.
func createGzip(final string) (*gzipFile, error) {
	tmp := tempName(final)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("error creating %s: %w", tmp, err)
	}
	g := &gzipFile{final: final, tmp: tmp, f: f, hash: sha256.New()}
	g.count = &countingWriter{w: io.MultiWriter(f, g.hash)}
	// The gzip header carries no name or time, so equal lines give equal
	// bytes (and the same sha256) whoever writes them.
	g.zw, _ = gzip.NewWriterLevel(g.count, gzip.DefaultCompression)
	return g, nil
}

// write adds NDJSON lines (each ending in a newline).
func (g *gzipFile) write(lines []byte, n int64) error {
	if _, err := g.zw.Write(lines); err != nil {
		return fmt.Errorf("error writing %s: %w", g.tmp, err)
	}
	g.lines += n
	return nil
}

// finish completes the gzip stream, fsyncs and closes the temporary file
// and returns its manifest entry (named after final). On error the
// temporary file is removed.
func (g *gzipFile) finish() (ManifestFile, error) {
	err := g.zw.Close()
	if err == nil {
		err = g.f.Sync()
	}
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(g.tmp)
		return ManifestFile{}, fmt.Errorf("error writing %s: %w", g.tmp, err)
	}
	return ManifestFile{
		Name: filepath.Base(g.final), Lines: g.lines, Bytes: g.count.n, SHA256: hex.EncodeToString(g.hash.Sum(nil)),
	}, nil
}

// abort drops the file.
func (g *gzipFile) abort() {
	_ = g.f.Close()
	_ = os.Remove(g.tmp)
}

// writeTempGzip gzips data into a new temporary file named after final,
// fsyncs and closes it. It returns the temporary path and the file's entry
// for the manifest. On error nothing is left behind.
func writeTempGzip(final string, data []byte, lines int64) (string, ManifestFile, error) {
	g, err := createGzip(final)
	if err != nil {
		return "", ManifestFile{}, err
	}
	if err := g.write(data, lines); err != nil {
		g.abort()
		return "", ManifestFile{}, err
	}
	mf, err := g.finish()
	return g.tmp, mf, err
}

// linkNoReplace gives the file at tmp the name final, failing with
// fs.ErrExist when final exists, and removes the name tmp. The final name
// appears whole or not at all.
func linkNoReplace(tmp, final string) error {
	if err := os.Link(tmp, final); err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("error removing %s: %w", tmp, err)
	}
	return nil
}

// publishSeq links tmp to the first free <hh>-<seq> name in dir, starting at
// *seq, and leaves *seq just past the name taken. It does not sync dir.
func publishSeq(dir, tmp string, hour int, seq *int) (string, error) {
	for range maxSeqTries {
		name := fileName(hour, *seq)
		err := linkNoReplace(tmp, filepath.Join(dir, name))
		if errors.Is(err, fs.ErrExist) {
			*seq++ // another exporter took it
			continue
		}
		if err != nil {
			return "", fmt.Errorf("error linking %s: %w", name, err)
		}
		*seq++
		return name, nil
	}
	return "", fmt.Errorf("error finding a free file name for hour %02d in %s", hour, dir)
}

// writeFileAtomic replaces path with data: a temporary file, fsync, rename,
// fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := tempName(path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("error creating %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// statDataFile reads a data file for its manifest entry: size, sha256 of
// the gzip bytes and the number of lines.
func statDataFile(path string) (ManifestFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ManifestFile{}, fmt.Errorf("error reading %s: %w", path, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return ManifestFile{}, fmt.Errorf("error reading %s: %w", path, err)
	}
	var lines int64
	buf := make([]byte, 64<<10)
	for {
		n, err := zr.Read(buf)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ManifestFile{}, fmt.Errorf("error reading %s: %w", path, err)
		}
	}
	sum := sha256.Sum256(raw)
	return ManifestFile{
		Name: filepath.Base(path), Lines: lines, Bytes: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]),
	}, nil
}

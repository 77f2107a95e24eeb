package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sweeper is a store whose unreferenced blobs can be swept.
type Sweeper interface {
	// Sweep deletes every blob older than cutoff that referenced does not
	// claim, and temporary files of Puts older than cutoff.
	Sweep(ctx context.Context, cutoff time.Time, referenced Referenced) (SweepResult, error)
}

// Referenced reports which of keys some record still uses.
type Referenced func(ctx context.Context, keys []string) (map[string]bool, error)

// SweepResult counts what a sweep did.
type SweepResult struct {
	// Checked counts blobs old enough to be candidates.
	Checked int
	// Deleted counts unreferenced blobs removed, and Bytes their size.
	Deleted int
	Bytes   int64
	// Temporary counts abandoned temporary files removed.
	Temporary int
}

var _ Sweeper = (*DirStore)(nil)

// sweepBatch is how many candidates one reference query checks.
const sweepBatch = 500

// Sweep implements Sweeper. Several processes may Put into the directory
// while it runs, and a Put of content already stored replaces the file
// with a fresh one, so a blob is never deleted in place: it is first
// renamed out of its path (atomic), then checked again, by its time (a Put
// since the listing made it new) and by referenced (a record written since
// the first check); a blob that fails either check is renamed back, which
// is harmless even over a newer Put, the content being the same. A Put after
// the rename simply stores the blob again.
func (s *DirStore) Sweep(ctx context.Context, cutoff time.Time, referenced Referenced) (SweepResult, error) {
	var res SweepResult
	if err := s.sweepTemporary(cutoff, &res); err != nil {
		return res, err
	}
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.sweepBatch(ctx, cutoff, batch, referenced, &res)
		batch = batch[:0]
		return err
	}
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if d.IsDir() {
			if d.Name() == "tmp" && filepath.Dir(path) == s.dir {
				return filepath.SkipDir
			}
			return nil
		}
		key := d.Name()
		if p, _ := s.path(key); p != path {
			return nil // not a blob
		}
		if info, err := d.Info(); err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		res.Checked++
		if batch = append(batch, key); len(batch) == sweepBatch {
			return flush()
		}
		return ctx.Err()
	})
	if err != nil {
		return res, fmt.Errorf("error sweeping blobs: %w", err)
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("error sweeping blobs: %w", err)
	}
	return res, nil
}

func (s *DirStore) sweepBatch(ctx context.Context, cutoff time.Time, keys []string, referenced Referenced, res *SweepResult) error {
	used, err := referenced(ctx, keys)
	if err != nil {
		return err
	}
	type movedBlob struct {
		key, path, trash string
		size             int64
	}
	var moved []movedBlob
	for _, key := range keys {
		if used[key] {
			continue
		}
		p, _ := s.path(key)
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		trash := filepath.Join(s.dir, "tmp", sweepPrefix+key+"-"+hex.EncodeToString(rnd[:]))
		if err := os.Rename(p, trash); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("error moving blob %s: %w", key, err)
		}
		info, err := os.Stat(trash)
		if err != nil || !info.ModTime().Before(cutoff) {
			if err := restore(trash, p); err != nil {
				return err
			}
			continue
		}
		moved = append(moved, movedBlob{key, p, trash, info.Size()})
	}
	if len(moved) == 0 {
		return nil
	}
	again := make([]string, len(moved))
	for i, m := range moved {
		again[i] = m.key
	}
	used, err = referenced(ctx, again)
	for _, m := range moved {
		if err != nil || used[m.key] {
			if rerr := restore(m.trash, m.path); rerr != nil {
				return rerr
			}
			continue
		}
		if rerr := os.Remove(m.trash); rerr != nil {
			if errors.Is(rerr, fs.ErrNotExist) {
				continue // another sweep put it back
			}
			return fmt.Errorf("error deleting blob %s: %w", m.key, rerr)
		}
		res.Deleted++
		res.Bytes += m.size
	}
	return err
}

// sweepPrefix names a blob moved aside by a sweep, in tmp.
const sweepPrefix = "sweep-"

// restore puts a moved blob back at its path. A blob already put back
// (by another sweep) is not an error.
func restore(trash, path string) error {
	if err := os.Rename(trash, path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error restoring blob %s: %w", filepath.Base(path), err)
	}
	return nil
}

// sweepTemporary removes temporary files older than cutoff (Puts that a
// crash interrupted) and puts back any blob a crashed sweep had moved
// aside, for this sweep to judge again.
func (s *DirStore) sweepTemporary(cutoff time.Time, res *SweepResult) error {
	dir := filepath.Join(s.dir, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("error reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		if key, ok := strings.CutPrefix(name, sweepPrefix); ok && len(key) > 64 {
			if p, err := s.path(key[:64]); err == nil {
				if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
					return fmt.Errorf("error restoring blob %s: %w", key[:64], err)
				}
				if err := restore(filepath.Join(dir, name), p); err != nil {
					return err
				}
				continue
			}
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err == nil {
			res.Temporary++
		}
	}
	return nil
}

package export

// seqCacheMax bounds the day directories whose next sequence numbers an
// exporter remembers; past it the cache starts over.
const seqCacheMax = 4096

// seqCache remembers, per day directory, the next sequence number of each
// hour, so a flush does not list a directory that only grows: listing it
// each time would make a day's flushes cost the square of its file count.
// A number taken meanwhile by another exporter is skipped when linking
// (publishSeq), so a stale entry costs a retry, never a file.
type seqCache struct {
	dirs map[string]map[int]int
}

func newSeqCache() *seqCache {
	return &seqCache{dirs: make(map[string]map[int]int)}
}

// next returns dir's map of hour to next sequence number, listing dir the
// first time. The caller updates the map as it takes numbers.
func (c *seqCache) next(dir string) (map[int]int, error) {
	if next, ok := c.dirs[dir]; ok {
		return next, nil
	}
	next, err := nextSeqs(dir)
	if err != nil {
		return nil, err
	}
	if len(c.dirs) >= seqCacheMax {
		clear(c.dirs)
	}
	c.dirs[dir] = next
	return next, nil
}

// forget drops dir, to be listed again next time.
func (c *seqCache) forget(dir string) {
	delete(c.dirs, dir)
}

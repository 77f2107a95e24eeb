package httpapi

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// minBodyClass is the smallest body buffer: net/http's own read buffer per
// connection, so a client that has sent nothing holds no more of the budget
// than its connection already costs.
const minBodyClass = 4 << 10

// gzipStateBytes is what one gzip reader holds (its inflate window, Huffman
// tables and input buffer), reserved from the budget while a gzip-encoded
// body is read.
const gzipStateBytes = 48 << 10

// Errors of bodyPool.readAll.
var (
	errBodyBudget = errors.New("httpapi: the budget for bodies in flight is spent")
	errBodyFull   = errors.New("httpapi: the body is larger than the last size class")
)

// bodyBudget is a semaphore of bytes: the memory that request bodies being
// read may hold at once, across every request of the process. A request
// reserves each buffer before it takes it and releases it when done, so a
// client that trickles its body holds about what it has sent, whatever
// Content-Length it declared.
type bodyBudget struct {
	max  int64
	used atomic.Int64
}

// tryReserve takes n bytes of the budget, or reports false when that would
// pass the maximum.
func (b *bodyBudget) tryReserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release returns n bytes taken by tryReserve.
func (b *bodyBudget) release(n int64) { b.used.Add(-n) }

// inUse is how many bytes are reserved now.
func (b *bodyBudget) inUse() int64 { return b.used.Load() }

// MinInflightBodyBytes is the smallest budget for bodies in flight that
// still lets one body of maxBody bytes through, gzip-encoded: while its
// buffer moves to the last class it holds the one before (at most half as
// large) too.
func MinInflightBodyBytes(maxBody int64) int64 { return 2*maxBody + gzipStateBytes }

// bodyPool hands out body buffers in size classes (minBodyClass, doubling,
// up to the body limit), each class pooled, each buffer's whole size
// reserved from the budget while a request holds it.
type bodyPool struct {
	budget bodyBudget
	sizes  []int
	pools  []sync.Pool // of *[]byte, one per size
}

func newBodyPool(limit, budget int64) *bodyPool {
	p := &bodyPool{budget: bodyBudget{max: budget}}
	for size := int64(minBodyClass); ; size *= 2 {
		if size >= limit {
			p.sizes = append(p.sizes, int(limit))
			break
		}
		p.sizes = append(p.sizes, int(size))
	}
	p.pools = make([]sync.Pool, len(p.sizes))
	return p
}

// bodyBuf is one request's body: n bytes read into buf, a buffer of size
// class, whose size is reserved from the budget. The zero value holds
// nothing.
type bodyBuf struct {
	buf   *[]byte
	class int
	n     int
}

// bytes is what has been read.
func (b *bodyBuf) bytes() []byte { return (*b.buf)[:b.n] }

// grow moves b into the next size class, reserving it first; it reports
// false, leaving b as it was, when the budget has no room. The caller
// ensures b is not in the last class.
func (p *bodyPool) grow(b *bodyBuf) bool {
	next := 0
	if b.buf != nil {
		next = b.class + 1
	}
	size := p.sizes[next]
	if !p.budget.tryReserve(int64(size)) {
		return false
	}
	nb, _ := p.pools[next].Get().(*[]byte)
	if nb == nil {
		s := make([]byte, size)
		nb = &s
	}
	n := b.n
	if b.buf != nil {
		copy(*nb, (*b.buf)[:n])
		p.put(b)
	}
	*b = bodyBuf{buf: nb, class: next, n: n}
	return true
}

// full reports whether b has no room left and no larger class to move to.
func (p *bodyPool) full(b *bodyBuf) bool {
	return b.buf != nil && b.class == len(p.sizes)-1 && b.n == len(*b.buf)
}

// put returns b's buffer to its pool and its reservation to the budget.
// Nothing may read b's bytes afterwards.
func (p *bodyPool) put(b *bodyBuf) {
	if b.buf == nil {
		return
	}
	p.pools[b.class].Put(b.buf)
	p.budget.release(int64(p.sizes[b.class]))
	*b = bodyBuf{}
}

// readAll reads rd to its end into b, moving to a larger class only when
// the current one is full. It returns errBodyBudget when the budget has no
// room for the next class and errBodyFull when rd has more than the last
// class holds.
func (p *bodyPool) readAll(rd io.Reader, b *bodyBuf) error {
	for {
		if b.buf == nil || b.n == len(*b.buf) {
			if p.full(b) {
				// Full to the limit: the body must end here.
				var one [1]byte
				switch _, err := io.ReadFull(rd, one[:]); err {
				case io.EOF:
					return nil
				case nil:
					return errBodyFull
				default:
					return err
				}
			}
			if !p.grow(b) {
				return errBodyBudget
			}
		}
		m, err := rd.Read((*b.buf)[b.n:])
		b.n += m
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

package ratelimit

import (
	"net/netip"
	"sync"
)

// key identifies a client: the 16-byte form of an IPv4 address (::ffff:a.b.c.d)
// or of an IPv6 /64 prefix (low 8 bytes zero). The two never collide, because
// IPv4-mapped IPv6 addresses are unmapped to IPv4 first.
type key [16]byte

// invalidKey is the key of every invalid address. It is an IPv6 multicast
// prefix, which is never a packet's source address.
var invalidKey = key{0: 0xff, 1: 0xff, 2: 0xff, 3: 0xff, 4: 0xff, 5: 0xff, 6: 0xff, 7: 0xff}

// keyOf maps addr to its rate-limit key: the full address for IPv4, the /64
// prefix for IPv6.
func keyOf(addr netip.Addr) key {
	addr = addr.Unmap()
	switch {
	case addr.Is4():
		return addr.As16()
	case addr.Is6():
		k := key(addr.As16())
		clear(k[8:])
		return k
	default:
		return invalidKey
	}
}

// none marks the absence of an entry in the intrusive lists below.
const none = -1

// evictScan is how many entries from the least recently used end eviction
// inspects for a full bucket before it settles for the least recently used.
const evictScan = 8

// entry is one tracked key. Entries live in shard.entries and link to each
// other by index, so the table holds no pointers for the GC to scan.
type entry struct {
	key  key
	tat  int64 // GCRA theoretical arrival time, Unix nanoseconds
	prev int32 // toward the most recently used end
	next int32 // toward the least recently used end; the free list's link
}

// shard is one independently locked partition of a Limiter's keys, with at
// most capacity entries kept in least-recently-used order.
type shard struct {
	mu       sync.Mutex
	index    map[key]int32 // key -> position in entries
	entries  []entry       // grows up to capacity, then slots are reused
	head     int32         // most recently used, or none
	tail     int32         // least recently used, or none
	free     int32         // first slot freed by sweep, or none
	capacity int32

	// Keep neighbouring shards' mutexes on different cache lines.
	_ [64]byte
}

func (s *shard) init(capacity int32) {
	s.index = make(map[key]int32)
	s.head, s.tail, s.free = none, none, none
	s.capacity = capacity
}

// get returns the entry for k, marked most recently used, creating it with a
// full bucket (TAT = now) if k is not tracked. window is the Limiter's
// Burst*interval, used to tell full buckets when evicting.
func (s *shard) get(k key, now, window int64) *entry {
	if i, ok := s.index[k]; ok {
		s.moveToFront(i)
		return &s.entries[i]
	}
	var i int32
	switch {
	case s.free != none:
		i = s.free
		s.free = s.entries[i].next
	case int32(len(s.entries)) < s.capacity:
		i = int32(len(s.entries))
		s.entries = append(s.entries, entry{})
	default:
		i = s.victim(now)
		delete(s.index, s.entries[i].key)
		s.unlink(i)
	}
	// A new or reused slot starts as a fresh bucket, never with leftover
	// credit: evicting a key can cost at most a fresh Burst.
	s.entries[i] = entry{key: k, tat: now, prev: none, next: none}
	s.index[k] = i
	s.pushFront(i)
	return &s.entries[i]
}

// victim picks the entry to evict from a full shard: the first entry whose
// bucket is full at now among the evictScan least recently used, else the
// least recently used. The scan is bounded so that a flood of new keys costs
// O(1) each.
func (s *shard) victim(now int64) int32 {
	i := s.tail
	for n := 0; n < evictScan && i != none; n++ {
		if s.entries[i].tat <= now {
			return i
		}
		i = s.entries[i].prev
	}
	return s.tail
}

// sweep removes every entry whose bucket is full at now and returns how many
// it removed.
func (s *shard) sweep(now int64) int {
	n := 0
	for i := s.tail; i != none; {
		prev := s.entries[i].prev
		if s.entries[i].tat <= now {
			delete(s.index, s.entries[i].key)
			s.unlink(i)
			s.entries[i] = entry{prev: none, next: s.free}
			s.free = i
			n++
		}
		i = prev
	}
	return n
}

func (s *shard) moveToFront(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *shard) pushFront(i int32) {
	e := &s.entries[i]
	e.prev, e.next = none, s.head
	if s.head != none {
		s.entries[s.head].prev = i
	}
	s.head = i
	if s.tail == none {
		s.tail = i
	}
}

func (s *shard) unlink(i int32) {
	e := &s.entries[i]
	if e.prev != none {
		s.entries[e.prev].next = e.next
	} else {
		s.head = e.next
	}
	if e.next != none {
		s.entries[e.next].prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = none, none
}

package telemetry

import (
	"encoding/binary"
	"fmt"
)

// StoredBatchVersion is the format version a batch message carries in its
// first element. A reader refuses any other version as invalid, so a new
// version must reach every reader before any writer uses it.
const StoredBatchVersion = 1

// StoredBatchHeaderMax is the most bytes AppendStoredBatchHeader appends.
const StoredBatchHeaderMax = 6

// StoredItemOverhead is what AppendStoredItem adds to an event's stored
// encoding (its bin32 frame).
const StoredItemOverhead = 5

// A stream message holds either one event in the stored encoding (a
// MessagePack map, see AppendStored: the first format, still read) or a
// batch: a MessagePack array whose first element is StoredBatchVersion and
// whose other elements are bin values, each one event's stored encoding.
// Framing each event on its own lets a reader refuse one bad event and keep
// the others. Build a batch with AppendStoredBatchHeader followed by n items
// of AppendStoredItem (items may be built apart and concatenated), and read
// one with SplitStored. docs/telemetry.md describes the format.

// AppendStoredBatchHeader appends the header of a batch of n events.
func AppendStoredBatchHeader(dst []byte, n int) []byte {
	return append(appendArrayLen(dst, n+1), StoredBatchVersion)
}

// AppendStoredItem appends ev's stored encoding framed as one batch item.
// On an error (see AppendStored) dst is returned unchanged.
func AppendStoredItem(dst []byte, ev *Event) ([]byte, error) {
	start := len(dst)
	b, err := AppendStored(append(dst, mpBin32, 0, 0, 0, 0), ev)
	if err != nil {
		return dst[:start], err
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-StoredItemOverhead))
	return b, nil
}

// SplitStored appends to dst the stored encoding of each event message data
// holds, as views into data, in order: data itself for a one-event message,
// each item for a batch. Decode each with UnmarshalStored. An error wraps
// ErrInvalidStored and is permanent: the container itself is broken (or of
// an unknown version), so no event of it can be read. Like UnmarshalStored
// it never allocates by a length the bytes claim.
func SplitStored(data []byte, dst [][]byte) ([][]byte, error) {
	r := reader{b: data, maxDepth: 1}
	c, err := r.peek()
	switch {
	case err != nil:
		return dst, fmt.Errorf("error splitting stored events: %w: empty message", ErrInvalidStored)
	case c&0xf0 == 0x80 || c == mpMap16 || c == mpMap32:
		return append(dst, data), nil
	case c&0xf0 != 0x90 && c != mpArray16 && c != mpArray32:
		return dst, fmt.Errorf("error splitting stored events: %w: expected a map or an array, got %s", ErrInvalidStored, typeName(c))
	}
	n, err := r.arrayLen(1)
	if err != nil || n == 0 {
		return dst, fmt.Errorf("error splitting stored events: %w: bad batch header", ErrInvalidStored)
	}
	if v, err := r.peek(); err != nil || v != StoredBatchVersion {
		return dst, fmt.Errorf("error splitting stored events: %w: unknown batch version (byte 0x%02x)", ErrInvalidStored, v)
	}
	r.off++
	start := len(dst)
	for i := 1; i < n; i++ {
		item, ok, err := r.bin()
		if err != nil || !ok {
			return dst[:start], fmt.Errorf("error splitting stored events: %w: item %d is not a binary value", ErrInvalidStored, i-1)
		}
		dst = append(dst, item)
	}
	if r.off != len(data) {
		return dst[:start], fmt.Errorf("error splitting stored events: %w: %d unexpected bytes after the batch", ErrInvalidStored, len(data)-r.off)
	}
	return dst, nil
}

// IsStoredBatch reports whether a message is in the batch format rather
// than the one-event format (it says nothing of whether it is valid).
func IsStoredBatch(data []byte) bool {
	return len(data) > 0 && (data[0]&0xf0 == 0x90 || data[0] == mpArray16 || data[0] == mpArray32)
}

// AppendStoredItemBytes appends stored, one event's stored encoding as
// SplitStored returns it, framed as one batch item: to re-frame some items
// of a batch (say, the ones kept as dead letters) as a batch of their own.
func AppendStoredItemBytes(dst, stored []byte) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst, mpBin32), uint32(len(stored)))
	return append(dst, stored...)
}

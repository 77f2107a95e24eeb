package telemetry

import "cmp"

// Default limits, used for every Limits field left at zero.
const (
	DefaultMaxBatch           = 500      // events per batch
	DefaultMaxDepth           = 32       // nesting levels
	DefaultMaxStringLen       = 256      // bytes per id or name
	DefaultMaxCustomDataBytes = 16 << 10 // bytes of JSON per custom_data/hardware
	DefaultMaxPositions       = 30000    // numbers in positions (10000 points)
)

// Limits bounds what Decode accepts from a request body. The zero value means
// every default; a field that is zero or negative takes its default.
//
// The body size itself is bounded by the HTTP layer (http.MaxBytesReader);
// Decode never allocates more than a small multiple of the body, whatever
// lengths the MessagePack claims.
type Limits struct {
	// MaxBatch is the most events in one batch (a top-level array).
	// Defaults to 500.
	MaxBatch int
	// MaxDepth is the most levels maps and arrays may nest anywhere in the
	// body; the top-level map or array is level 1. The decoder recurses once
	// per level, so this also bounds its stack. Defaults to 32.
	MaxDepth int
	// MaxStringLen is the longest id or name (app_id, player_id, event_name,
	// level_id, ...), in bytes. Defaults to 256.
	MaxStringLen int
	// MaxCustomDataBytes is the largest compact JSON that custom_data or
	// hardware may convert to, in bytes. Defaults to 16 KiB.
	MaxCustomDataBytes int
	// MaxPositions is the most numbers in a realtime trajectory's positions
	// array (three per point). Defaults to 30000, i.e. 10000 points.
	MaxPositions int
}

// WithDefaults returns l with every zero or negative field set to its default.
func (l Limits) WithDefaults() Limits {
	return Limits{
		MaxBatch:           cmp.Or(max(l.MaxBatch, 0), DefaultMaxBatch),
		MaxDepth:           cmp.Or(max(l.MaxDepth, 0), DefaultMaxDepth),
		MaxStringLen:       cmp.Or(max(l.MaxStringLen, 0), DefaultMaxStringLen),
		MaxCustomDataBytes: cmp.Or(max(l.MaxCustomDataBytes, 0), DefaultMaxCustomDataBytes),
		MaxPositions:       cmp.Or(max(l.MaxPositions, 0), DefaultMaxPositions),
	}
}

package telemetry

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSkipScalarRuns checks skip's fast path over runs of scalars against
// the value's length, with the runs broken by other values, and that a
// truncated scalar in a run is still refused.
func TestSkipScalarRuns(t *testing.T) {
	t.Parallel()

	run := []any{0, 127, -1, -32, 200, -200, 70000, -70000, uint64(1) << 40, int64(-1) << 40,
		float32(1.5), 2.25, nil, true, false}
	values := []any{
		run,
		append(append([]any{}, run...), "str", []any{1, 2.5, []any{}}, map[string]any{"k": 1.5}, 3.5),
		append([]any{"first"}, run...),
		make([]float32, 900),
		make([]float64, 70000), // array32
	}
	for _, v := range values {
		b := pack(t, v)
		r := reader{b: b, maxDepth: 8}
		require.NoError(t, r.skip(1))
		require.Equal(t, len(b), r.off, "%v", v)
	}

	for _, tail := range [][]byte{
		{0xcb, 0, 0, 0},       // float64 cut short
		{0xca, 0},             // float32 cut short
		{0xd3, 0, 0, 0, 0, 0}, // int64 cut short
		{0xc1},                // reserved
	} {
		b := []byte{0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0x05}
		b = append(b, tail...)
		r := reader{b: b, maxDepth: 8}
		ve, ok := AsValidationError(r.skip(1))
		require.True(t, ok, "% x", b)
		require.Equal(t, CodeInvalidMsgpack, ve.Code)
	}

	// A claimed length longer than what remains is refused before the run.
	b := append([]byte{0xdc, 0xff, 0xff}, pack(t, make([]float64, 10))[1:]...)
	r := reader{b: b, maxDepth: 8}
	ve, ok := AsValidationError(r.skip(1))
	require.True(t, ok)
	require.Contains(t, ve.Message, "claims 65535 entries")
}

// TestDecodeWithScratch checks that DecodeWith returns what Decode does,
// call after call with the same Scratch, including when the Scratch grows
// in the middle of a batch, and that every Positions slice is capped.
func TestDecodeWithScratch(t *testing.T) {
	t.Parallel()

	batch := realisticBatch()
	// Trajectories of up to 2000 points, so that the storage grows (and is
	// replaced) several times within one batch.
	for i := range batch {
		if i%7 == 0 {
			batch[i] = realisticTrajectory(1 + 97*i%2000)
		}
	}
	bodies := [][]byte{
		pack(t, batch),
		pack(t, docExample(KindRealtime)),
		pack(t, docExample(KindGameplay)),
		pack(t, realisticTrajectory(10000)), // more than fits in 1 MiB with the rest
		pack(t, batch),
	}
	var s Scratch
	var dst []Event
	for _, body := range bodies {
		want, err := Decode(body, nil, nil)
		require.NoError(t, err)
		dst, err = DecodeWith(body, nil, dst[:0], &s)
		require.NoError(t, err)
		require.Equal(t, want, dst)
		for i := range dst {
			require.Equal(t, len(dst[i].Positions), cap(dst[i].Positions))
		}
		require.LessOrEqual(t, cap(s.floats), maxScratchFloats)
	}

	// A refused body leaves dst as it was; the Scratch is reusable.
	bad := pack(t, []any{docExample(KindRealtime), orderedExample(KindRealtime, kv{"positions", []any{1.0, 2.0, math.NaN()}})})
	evs, err := DecodeWith(bad, nil, nil, &s)
	require.Error(t, err)
	require.Empty(t, evs)

	// Once the Scratch is large enough, the positions of every trajectory
	// are taken from it, one after the other, and it is not replaced.
	body := pack(t, realisticBatch())
	_, err = DecodeWith(body, nil, dst[:0], &s)
	require.NoError(t, err)
	storage := &s.floats[:1][0]
	dst, err = DecodeWith(body, nil, dst[:0], &s)
	require.NoError(t, err)
	require.Same(t, storage, &s.floats[:1][0])
	off := 0
	for i := range dst {
		if ps := dst[i].Positions; ps != nil {
			require.Same(t, &s.floats[off], &ps[0])
			off += len(ps)
		}
	}
	require.Equal(t, 20*825, off)
	require.Len(t, s.floats, off)
}

// TestScratchTake checks the Scratch's bounds.
func TestScratchTake(t *testing.T) {
	t.Parallel()

	var nilScratch *Scratch
	require.Len(t, nilScratch.take(5), 5)

	var s Scratch
	a := s.take(3)
	b := s.take(maxScratchFloats - 3)
	require.Len(t, a, 3)
	require.Len(t, b, maxScratchFloats-3)
	require.Equal(t, maxScratchFloats, cap(s.floats))
	c := s.take(maxScratchFloats + 1) // larger than a Scratch may hold: its own
	require.Len(t, c, maxScratchFloats+1)
	require.Equal(t, maxScratchFloats, cap(s.floats))
	a[2], b[0] = 1, 2
	require.Equal(t, []float64{0, 0, 1}, a)
	require.Equal(t, 3, cap(a))
}

// TestFinite checks the f-f test against math.IsNaN and math.IsInf.
func TestFinite(t *testing.T) {
	t.Parallel()

	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(),
		math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xfff8000000000001)} {
		want := !math.IsNaN(f) && !math.IsInf(f, 0)
		require.Equal(t, want, finite([]float64{1, f, 2}), "%v", f)
	}
	require.True(t, finite(nil))
}

// TestUnmarshalStoredNumbers checks the stored decoder's fast path over
// float64 runs and its fallback for numbers another writer encodes
// differently, and that it refuses NaN, infinities and truncation.
func TestUnmarshalStoredNumbers(t *testing.T) {
	t.Parallel()

	evs, err := Decode(pack(t, realisticTrajectory(50)), nil, nil)
	require.NoError(t, err)
	ev := evs[0]
	ev.ReceivedAt = ev.TimestampStart
	stored, err := MarshalStored(&ev)
	require.NoError(t, err)
	var got Event
	require.NoError(t, UnmarshalStored(stored, &got))
	require.Equal(t, ev, got)

	// The positions array as msgpack/v5 writes it: fixints, float32s and
	// float64s mixed.
	mixed := []any{1, 2.5, float32(3.5), -4, 5.25, 300}
	i := strings.Index(string(stored), "\xa9positions") + 10
	require.Equal(t, byte(mpArray16), stored[i])
	end := i + 3 + 9*150
	other := append(append(append([]byte{}, stored[:i]...), pack(t, mixed)...), stored[end:]...)
	require.NoError(t, UnmarshalStored(other, &got))
	require.Equal(t, []float64{1, 2.5, 3.5, -4, 5.25, 300}, got.Positions)

	for name, f := range map[string]func(b []byte){
		"NaN":      func(b []byte) { binary.BigEndian.PutUint64(b[i+3+9*7+1:], math.Float64bits(math.NaN())) },
		"Inf":      func(b []byte) { binary.BigEndian.PutUint64(b[i+3+9*149+1:], math.Float64bits(math.Inf(-1))) },
		"NotFloat": func(b []byte) { b[i+3+9*3] = 0xa8 },
	} {
		b := append([]byte{}, stored...)
		f(b)
		err := UnmarshalStored(b, &got)
		require.ErrorIs(t, err, ErrInvalidStored, name)
		require.Equal(t, Event{}, got)
	}
	for cut := i + 3; cut < end; cut += 4 {
		require.ErrorIs(t, UnmarshalStored(stored[:cut], &got), ErrInvalidStored)
	}
}

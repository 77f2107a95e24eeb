package telemetry

import (
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzSeeds are valid bodies of every kind, single and batched, variants
// that exercise other encodings, and every bomb.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	var mixed []any
	for _, kind := range Kinds {
		seeds = append(seeds,
			pack(tb, docExample(kind)),
			pack(tb, []any{docExample(kind), docExample(kind)}))
		mixed = append(mixed, docExample(kind))
	}
	seeds = append(seeds,
		pack(tb, mixed),
		pack(tb, orderedExample(KindGameplay,
			kv{"custom_data", om{{"weapon", "Sword"}, {"ammo", 10}, {"tags", []any{"a", 1.5, nil, []byte{1}}}}},
			kv{"timestamp", "2026-02-12T10:00:00.123456+00:00"})),
		pack(tb, orderedExample(KindGameplay, kv{"position", []float32{10.5, 0, -5.2}}, kv{"timestamp", "2026-02-12T10:00:00.1234567Z"})),
		pack(tb, orderedExample(KindFunnel, kv{"event_id", "0F8FAD5B-D9CB-469F-A165-70867728950E"},
			kv{"timestamp", time.Date(2026, 2, 12, 10, 0, 0, 1, time.UTC)})),
	)
	for _, b := range bombs(tb) {
		// The extra bombs of close to a megabyte slow the fuzzer's
		// mutations down without adding coverage; TestDecodeBombs runs them.
		if len(b.body) <= 128<<10 {
			seeds = append(seeds, b.body)
		}
	}
	return seeds
}

// FuzzDecodeEvents checks, for any body: no panic; either a
// *ValidationError or events; allocation within 16 × the body limit; and
// every event round-trips through the stored encoding unchanged.
func FuzzDecodeEvents(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := heapAllocs()
		evs, err := Decode(body, nil, nil)
		require.Less(t, heapAllocs()-before, uint64(16*bodyLimit))

		// DecodeWith, with a Scratch reused from input to input, agrees.
		var err2 error
		fuzzDst, err2 = DecodeWith(body, nil, fuzzDst[:0], &fuzzScratch)
		require.Equal(t, err, err2)
		require.Equal(t, len(evs), len(fuzzDst))
		for i := range evs {
			require.Equal(t, evs[i], fuzzDst[i])
		}

		if err != nil {
			ve, ok := AsValidationError(err)
			require.True(t, ok, "error %v is not a *ValidationError", err)
			require.NotEmpty(t, ve.Code)
			require.Empty(t, evs)
			return
		}
		require.NotEmpty(t, evs)
		for i := range evs {
			ev := &evs[i]
			require.True(t, ev.Kind.Valid())
			b, err := MarshalStored(ev)
			require.NoError(t, err)
			var got Event
			require.NoError(t, UnmarshalStored(b, &got))
			require.Equal(t, *ev, got)
		}
	})
}

// fuzzScratch and fuzzDst are FuzzDecodeEvents' reused DecodeWith storage;
// a fuzzing process runs one input at a time.
var (
	fuzzScratch Scratch
	fuzzDst     []Event
)

// heapAllocs returns the bytes allocated so far, like MemStats.TotalAlloc
// but without stopping the world, which would slow the fuzzer tenfold. The
// fuzzer runs inputs one at a time per process, so the delta around Decode
// is Decode's (give or take per-P caches, far below the bound).
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzUnmarshalStored checks that the sink's decoder never panics on
// garbage and that whatever it accepts re-encodes to an equal event.
func FuzzUnmarshalStored(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		if evs, err := Decode(seed, nil, nil); err == nil {
			for i := range evs {
				b, err := MarshalStored(&evs[i])
				require.NoError(f, err)
				f.Add(b)
			}
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		if err := UnmarshalStored(b, &ev); err != nil {
			require.ErrorIs(t, err, ErrInvalidStored)
			return
		}
		again, err := MarshalStored(&ev)
		require.NoError(t, err)
		var got Event
		require.NoError(t, UnmarshalStored(again, &got))
		require.Equal(t, ev, got)
	})
}

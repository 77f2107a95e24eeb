package telemetry

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestStoredBatch(t *testing.T) {
	t.Parallel()

	evs := decodedExamples(t)
	for _, n := range []int{0, 1, 4, 15, 16, 300} {
		b := AppendStoredBatchHeader(nil, n)
		for i := range n {
			var err error
			b, err = AppendStoredItem(b, &evs[i%len(evs)])
			require.NoError(t, err)
		}
		require.True(t, IsStoredBatch(b))
		items, err := SplitStored(b, nil)
		require.NoError(t, err, "n=%d", n)
		require.Len(t, items, n)
		for i, item := range items {
			var got Event
			require.NoError(t, UnmarshalStored(item, &got))
			require.Equal(t, evs[i%len(evs)], got)
		}
		// Any MessagePack library reads the container.
		var generic []any
		require.NoError(t, msgpack.Unmarshal(b, &generic))
		require.Len(t, generic, n+1)
		require.EqualValues(t, StoredBatchVersion, generic[0])
	}

	// A one-event message of the first format is itself the one event.
	one, err := MarshalStored(&evs[0])
	require.NoError(t, err)
	require.False(t, IsStoredBatch(one))
	items, err := SplitStored(one, nil)
	require.NoError(t, err)
	require.Equal(t, [][]byte{one}, items)

	// A bad item is the reader's to refuse, one by one.
	b := AppendStoredItemBytes(AppendStoredBatchHeader(nil, 2), []byte("garbage"))
	b, err = AppendStoredItem(b, &evs[1])
	require.NoError(t, err)
	items, err = SplitStored(b, nil)
	require.NoError(t, err)
	require.ErrorIs(t, UnmarshalStored(items[0], new(Event)), ErrInvalidStored)
	require.NoError(t, UnmarshalStored(items[1], new(Event)))

	// An invalid event is refused before anything is appended.
	bad := evs[0]
	bad.ID = "not-a-uuid"
	got, err := AppendStoredItem([]byte("x"), &bad)
	require.ErrorIs(t, err, ErrInvalidStored)
	require.Equal(t, []byte("x"), got)
}

func TestSplitStoredRefusesBrokenContainers(t *testing.T) {
	t.Parallel()

	tests := map[string][]byte{
		"Empty":          nil,
		"NotAContainer":  {0xc3},
		"EmptyArray":     {0x90},
		"UnknownVersion": {0x91, 0x02},
		"VersionNotInt":  {0x91, 0xa1, 'x'},
		"ItemNotBinary":  {0x92, 0x01, 0xa1, 'x'},
		"ItemTruncated":  {0x92, 0x01, 0xc6, 0x00, 0x00, 0x10, 0x00, 'x'},
		"CountTooLarge":  {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},
		"MissingItems":   {0x93, 0x01, 0xc4, 0x00},
		"TrailingBytes":  {0x92, 0x01, 0xc4, 0x00, 0x00},
	}
	for name, b := range tests {
		items, err := SplitStored(b, nil)
		require.ErrorIs(t, err, ErrInvalidStored, name)
		require.Empty(t, items, name)
	}
}

func FuzzSplitStored(f *testing.F) {
	f.Add([]byte{0x92, 0x01, 0xc4, 0x01, 0x80})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := SplitStored(b, nil)
		if err != nil {
			return
		}
		for _, item := range items {
			_ = UnmarshalStored(item, new(Event))
		}
	})
}

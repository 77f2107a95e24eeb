package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacer(t *testing.T) {
	t.Parallel()

	t0 := time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)

	t.Run("SpacesSlotsByTheInterval", func(t *testing.T) {
		t.Parallel()

		p := newPacer(10*time.Millisecond, 0)
		for i := range 5 {
			slot, at, ok := p.reserve(t0)
			require.True(t, ok)
			require.EqualValues(t, i, slot)
			require.Equal(t, t0.Add(time.Duration(i)*10*time.Millisecond), at)
		}
	})

	t.Run("LateCallersDoNotCatchUp", func(t *testing.T) {
		t.Parallel()

		p := newPacer(10*time.Millisecond, 0)
		_, _, _ = p.reserve(t0)
		late := t0.Add(time.Second)
		_, at1, _ := p.reserve(late)
		_, at2, _ := p.reserve(late)
		require.Equal(t, late, at1, "a late slot is sent now")
		require.Equal(t, late.Add(10*time.Millisecond), at2, "and the next one an interval later, not at once")
	})

	t.Run("Unpaced", func(t *testing.T) {
		t.Parallel()

		p := newPacer(0, 0)
		for range 3 {
			_, at, ok := p.reserve(t0)
			require.True(t, ok)
			require.Equal(t, t0, at)
		}
	})

	t.Run("StopsAtTheLimit", func(t *testing.T) {
		t.Parallel()

		p := newPacer(0, 2)
		for range 2 {
			_, _, ok := p.reserve(t0)
			require.True(t, ok)
		}
		_, _, ok := p.reserve(t0)
		require.False(t, ok)
	})
}

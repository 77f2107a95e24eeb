package loadgen

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

const testAppID = "72ab8f81-ef36-4712-a046-399a62b9afaa"

func TestGenerator(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T, cfg *GeneratorConfig) *Generator {
		t.Helper()
		c := GeneratorConfig{AppID: testAppID, Seed: 42, Templates: 32}
		if cfg != nil {
			c = *cfg
			c.AppID = testAppID
		}
		g, err := NewGenerator(&c)
		require.NoError(t, err)
		return g
	}

	t.Run("BodiesAreValidBatches", func(t *testing.T) {
		t.Parallel()

		g := setup(t, nil)
		s := g.NewStream(1)
		evs, err := telemetry.Decode(s.AppendBody(nil, 100, true), nil, nil)
		require.NoError(t, err)
		require.Len(t, evs, 100)
		for _, ev := range evs {
			require.Equal(t, testAppID, ev.AppID)
			require.NotEmpty(t, ev.ID)
		}
	})

	t.Run("SingleIsAMap", func(t *testing.T) {
		t.Parallel()

		s := setup(t, nil).NewStream(1)
		body := s.AppendBody(nil, 1, true)
		require.Equal(t, byte(0x80), body[0]&0xf0, "a fixmap")
		_, err := telemetry.Decode(body, nil, nil)
		require.NoError(t, err)
		batch := s.AppendBody(nil, 1, false)
		require.Equal(t, byte(0x91), batch[0], "an array of one")
	})

	t.Run("EveryEventIsDistinct", func(t *testing.T) {
		t.Parallel()

		g := setup(t, nil)
		ids := map[string]bool{}
		for i := range 4 {
			s := g.NewStream(uint64(i)) // streams share the clock
			for range 25 {
				evs, err := telemetry.Decode(s.AppendBody(nil, 20, true), nil, nil)
				require.NoError(t, err)
				for _, ev := range evs {
					require.False(t, ids[ev.ID], "event id %s repeats", ev.ID)
					ids[ev.ID] = true
				}
			}
		}
		require.Len(t, ids, 2000)
	})

	t.Run("FollowsTheMixAndSizes", func(t *testing.T) {
		t.Parallel()

		g := setup(t, &GeneratorConfig{Seed: 7, Templates: 64, MinPoints: 50, MaxPoints: 500, MinCustomKeys: 2, MaxCustomKeys: 5,
			Mix: Mix{telemetry.KindGameplay: 3, telemetry.KindRealtime: 1}})
		s := g.NewStream(3)
		counts := map[telemetry.Kind]int{}
		for range 40 {
			evs, err := telemetry.Decode(s.AppendBody(nil, 100, true), nil, nil)
			require.NoError(t, err)
			for _, ev := range evs {
				counts[ev.Kind]++
				switch ev.Kind {
				case telemetry.KindRealtime:
					points := len(ev.Positions) / 3
					require.True(t, points >= 50 && points <= 500, "trajectory of %d points", points)
					require.False(t, ev.TimestampEnd.Before(ev.TimestampStart))
					require.NotNil(t, ev.FPS)
				case telemetry.KindGameplay:
					var cd map[string]any
					require.NoError(t, json.Unmarshal(ev.CustomData, &cd))
					require.True(t, len(cd) >= 2 && len(cd) <= 5, "custom_data of %d keys", len(cd))
					require.NotNil(t, ev.Position)
				}
			}
		}
		require.Len(t, counts, 2)
		require.Equal(t, int64(counts[telemetry.KindGameplay]), s.Kinds[telemetry.KindGameplay])
		share := float64(counts[telemetry.KindGameplay]) / 4000
		require.InDelta(t, 0.75, share, 0.05)
	})

	t.Run("EveryKind", func(t *testing.T) {
		t.Parallel()

		g := setup(t, &GeneratorConfig{Seed: 9, Templates: 8, Mix: DefaultMix})
		s := g.NewStream(1)
		evs, err := telemetry.Decode(s.AppendBody(nil, 500, true), nil, nil)
		require.NoError(t, err)
		seen := map[telemetry.Kind]bool{}
		for _, ev := range evs {
			seen[ev.Kind] = true
			if ev.Kind == telemetry.KindPlayer {
				require.Equal(t, "Create_Player", ev.EventName)
				require.JSONEq(t, string(ev.Hardware), string(ev.Hardware)) // valid JSON
			}
		}
		require.Len(t, seen, 4)
	})

	t.Run("TimestampsAreNowAndIncreasing", func(t *testing.T) {
		t.Parallel()

		at := time.Date(2026, 2, 12, 10, 0, 0, 999_999_998, time.UTC)
		g := setup(t, &GeneratorConfig{Seed: 1, Templates: 4, Mix: Mix{telemetry.KindFunnel: 1}, Now: func() time.Time { return at }})
		s := g.NewStream(1)
		evs, err := telemetry.Decode(s.AppendBody(nil, 4, true), nil, nil)
		require.NoError(t, err)
		for i, ev := range evs {
			require.Equal(t, at.Add(time.Duration(i)), ev.Timestamp, "event %d", i)
		}
		evs, err = telemetry.Decode(s.AppendBody(nil, 1, true), nil, nil)
		require.NoError(t, err)
		require.Equal(t, at.Add(4), evs[0].Timestamp, "a frozen clock still moves on")
	})

	t.Run("FormatTS", func(t *testing.T) {
		t.Parallel()

		s := setup(t, nil).NewStream(1)
		for _, at := range []time.Time{
			time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC),
			time.Date(2026, 12, 31, 23, 59, 59, 123456789, time.UTC),
			time.Date(2026, 12, 31, 23, 59, 59, 123456790, time.UTC), // same second, cached
		} {
			dst := make([]byte, tsWidth)
			s.formatTS(dst, at.UnixNano())
			require.Equal(t, at.Format(tsLayout), string(dst))
		}
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()

		for _, c := range []GeneratorConfig{
			{},
			{AppID: testAppID, MinPoints: 10, MaxPoints: 5},
			{AppID: testAppID, MaxPoints: 20000},
			{AppID: testAppID, MinCustomKeys: 3, MaxCustomKeys: 2},
			{AppID: testAppID, MaxCustomKeys: 99},
			{AppID: testAppID, Mix: Mix{}},
		} {
			_, err := NewGenerator(&c)
			require.Error(t, err, "%+v", c)
		}
	})
}

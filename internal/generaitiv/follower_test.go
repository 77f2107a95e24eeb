package generaitiv_test

import (
	"context"
	"errors"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

// TestFollow runs against the simulator as documented and in its
// variations mode (extra fields, other casing of the websocket's type
// words and a word of its own, opaque cursors).
func TestFollow(t *testing.T) {
	t.Parallel()
	t.Run("Documented", func(t *testing.T) { t.Parallel(); testFollow(t, false) })
	t.Run("Variations", func(t *testing.T) { t.Parallel(); testFollow(t, true) })
}

func testFollow(t *testing.T, variations bool) {
	ctx := context.Background()
	setup := func(t *testing.T, simCfg *generaitivsim.Config, cfg *generaitiv.Config) *testBundle {
		t.Helper()
		return setupMode(t, variations, simCfg, cfg)
	}

	start := func(t *testing.T, bundle *testBundle, prompt string) *generaitiv.GenResponse {
		t.Helper()
		w, h, steps := 80, 64, 10
		resp, err := bundle.client.Generate(ctx, &generaitiv.GenRequest{Model: "stability-ai-sdxl",
			Input: generaitiv.GenInput{Prompt: prompt, Width: &w, Height: &h, NumInferenceSteps: &steps}})
		require.NoError(t, err)
		require.NotEmpty(t, resp.WorkloadID)
		require.NotEmpty(t, resp.JWT)
		return resp
	}

	t.Run("BadJWTIsPermanent", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		resp := start(t, bundle, "p")
		_, err := bundle.client.Follow(ctx, resp.WorkloadID, resp.JWT+"x", nil)
		require.Error(t, err)
		require.Contains(t, err.Error(), "401")
	})

	t.Run("CallbackErrorStops", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &generaitivsim.Config{GenerationTime: 2 * time.Second}, nil)
		resp := start(t, bundle, "p")
		stop := errors.New("stop")
		_, err := bundle.client.Follow(ctx, resp.WorkloadID, resp.JWT, func(context.Context, *generaitiv.Event) error { return stop })
		require.ErrorIs(t, err, stop)
	})

	t.Run("CompletesWithRealPNG", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		resp := start(t, bundle, "a castle")
		var mu sync.Mutex
		var pcts []int
		withoutPct := 0
		res, err := bundle.client.Follow(ctx, resp.WorkloadID, resp.JWT, func(_ context.Context, ev *generaitiv.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.Message == nil {
				withoutPct++
				return nil
			}
			pcts = append(pcts, ev.Message.Percentage)
			return nil
		})
		require.NoError(t, err)
		require.True(t, res.Completed)
		require.Zero(t, res.Reconnects)
		require.NotEmpty(t, pcts)
		require.Positive(t, withoutPct, "some IN_PROGRESS messages carry no percentage")
		require.IsNonDecreasing(t, pcts)

		img, err := bundle.client.OpenImage(ctx, res.Link, 1<<20)
		require.NoError(t, err)
		defer img.Body.Close()
		require.Equal(t, "image/png", img.ContentType)
		decoded, err := png.Decode(img.Body)
		require.NoError(t, err)
		require.Equal(t, 80, decoded.Bounds().Dx())
		require.Equal(t, 64, decoded.Bounds().Dy())
	})

	t.Run("ErrorMessageEnds", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		resp := start(t, bundle, "please [fail]")
		res, err := bundle.client.Follow(ctx, resp.WorkloadID, resp.JWT, nil)
		require.NoError(t, err)
		require.False(t, res.Completed)
		require.NotEmpty(t, res.Message)
	})

	t.Run("ReconnectsWhenDroppedMidStream", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &generaitivsim.Config{GenerationTime: 500 * time.Millisecond}, nil)
		bundle.sim.SetFaults(generaitivsim.Faults{WSDropAfter: 3})
		resp := start(t, bundle, "p")
		res, err := bundle.client.Follow(ctx, resp.WorkloadID, resp.JWT, nil)
		require.NoError(t, err)
		require.True(t, res.Completed)
		require.Equal(t, 1, res.Reconnects)
		require.Equal(t, 2, bundle.sim.Stats().WSConnections)
	})
}

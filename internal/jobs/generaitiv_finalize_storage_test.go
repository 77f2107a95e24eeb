package jobs

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGeneraitivFinalizeWorker_StorageFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	bundle := genSetup(t, nil)
	// A reserve no disk has: every Put is refused before writing.
	full, err := blob.NewDirStoreWithConfig(t.TempDir(), &blob.DirStoreConfig{MinFreeBytes: 1 << 62})
	require.NoError(t, err)
	bundle.deps.Blob = full
	g := bundle.insertGeneration(t, nil, func(g *store.Generation) {
		g.Status, g.UpstreamLink = store.GenerationFinalizing, bundle.completedLink(t)
	})

	// Even on its last attempt, the job waits for room instead of failing
	// the generation.
	res, err := newTestWorker(t, bundle, &GeneraitivFinalizeWorker{deps: bundle.deps}).
		Work(ctx, t, bundle.tx(t), GeneraitivFinalizeArgs{GenerationID: g.ID}, &river.InsertOpts{MaxAttempts: 1})
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
	got := bundle.get(t, g.ID)
	require.Equal(t, store.GenerationFinalizing, got.Status)
	require.Empty(t, got.ErrorCode)
	require.Empty(t, got.ImageKey)
}

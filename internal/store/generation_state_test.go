package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGenerationStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	insert := func() *store.Generation {
		g := &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m", Input: json.RawMessage(`{"prompt":"x"}`),
			DeadlineAt: time.Now().Add(time.Minute)}
		require.NoError(t, store.GenerationInsert(ctx, db.Pool, g))
		return g
	}
	queued, running := insert(), insert()
	_, err = store.GenerationUpdate(ctx, db.Pool, running.ID, func(_ pgx.Tx, g *store.Generation) error {
		g.Status, g.Progress = store.JobProcessing, 40
		return nil
	})
	require.NoError(t, err)
	missing := uuid.New()

	got, err := store.GenerationStates(ctx, db.Pool, []uuid.UUID{queued.ID, running.ID, missing})
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]store.GenerationState{
		queued.ID:  {Status: store.JobQueued},
		running.ID: {Status: store.JobProcessing, Progress: 40},
	}, got)

	got, err = store.GenerationStates(ctx, db.Pool, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

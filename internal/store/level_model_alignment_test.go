package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestLevelModelAlignment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) (*dbtest.Schema, uuid.UUID, []*store.LevelModel) {
		t.Helper()
		db := dbtest.NewSchema(t)
		app, err := store.AppCreate(ctx, db.Pool, "game-a")
		require.NoError(t, err)
		var models []*store.LevelModel
		for i, level := range []string{"L1", "L1", "L1", "L2"} {
			m, err := store.LevelModelInsert(ctx, db.Pool, &store.LevelModelInsertParams{
				AppID: app.AppID, LevelName: level, BlobKey: fmt.Sprintf("%064x", i), SizeBytes: 10,
				Format: "glb", ContentType: "model/gltf-binary",
			})
			require.NoError(t, err)
			models = append(models, m)
		}
		return db, app.AppID, models
	}

	t.Run("SetAndList", func(t *testing.T) {
		t.Parallel()
		db, app, models := setup(t)
		require.Equal(t, store.DefaultAlignment(), models[0].Alignment())
		want := store.ModelAlignment{UpAxis: "z", Scale: 0.25, Offset: [3]float64{-1, 2, 3}}
		m, err := store.LevelModelSetAlignment(ctx, db.Pool, &store.LevelModelSetAlignmentParams{AppID: app, ID: models[1].ID, Alignment: want})
		require.NoError(t, err)
		require.Equal(t, want, m.Alignment())
		require.Equal(t, models[1].Version, m.Version)

		// Two versions per level, the newest first.
		list, err := store.LevelModelsByLevel(ctx, db.Pool, &store.LevelModelsByLevelParams{AppID: app, PerLevel: 2})
		require.NoError(t, err)
		var got []string
		for _, l := range list {
			got = append(got, fmt.Sprintf("%s v%d %s", l.LevelName, l.Version, l.UpAxis))
		}
		require.Equal(t, []string{"L1 v3 y", "L1 v2 z", "L2 v1 y"}, got)

		_, err = store.LevelModelSetAlignment(ctx, db.Pool, &store.LevelModelSetAlignmentParams{AppID: uuid.New(), ID: models[1].ID, Alignment: want})
		require.ErrorIs(t, err, store.ErrNotFound, "another app's model")
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		db, app, models := setup(t)
		for _, c := range []struct {
			a     store.ModelAlignment
			field string
		}{
			{store.ModelAlignment{UpAxis: "x", Scale: 1}, "up_axis"},
			{store.ModelAlignment{UpAxis: "y", Scale: 0}, "scale"},
			{store.ModelAlignment{UpAxis: "y", Scale: math.NaN()}, "scale"},
			{store.ModelAlignment{UpAxis: "y", Scale: math.Inf(1)}, "scale"},
			{store.ModelAlignment{UpAxis: "y", Scale: 1, Offset: [3]float64{0, math.Inf(-1), 0}}, "offset"},
			{store.ModelAlignment{UpAxis: "y", Scale: 1, Offset: [3]float64{math.NaN(), 0, 0}}, "offset"},
		} {
			_, err := store.LevelModelSetAlignment(ctx, db.Pool, &store.LevelModelSetAlignmentParams{AppID: app, ID: models[0].ID, Alignment: c.a})
			var fe *store.FieldError
			require.True(t, errors.As(err, &fe), "%+v: %v", c.a, err)
			require.Equal(t, c.field, fe.Field)
		}
		// The table refuses them too, whoever writes.
		for _, set := range []string{"up_axis = 'x'", "scale = 'NaN'", "scale = 0", "scale = 'Infinity'",
			"offset_xyz = '{0,0}'", "offset_xyz = '{0,NaN,0}'", "offset_xyz = '{0,NULL,0}'", "offset_xyz = '{-Infinity,0,0}'"} {
			_, err := db.Pool.Exec(ctx, "UPDATE level_models SET "+set+" WHERE id = $1", models[0].ID)
			require.Error(t, err, set)
		}
	})
}

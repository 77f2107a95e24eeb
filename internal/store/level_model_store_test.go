package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestLevelModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db         *dbtest.Schema
		appA, appB uuid.UUID
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		a, err := store.AppCreate(ctx, db.Pool, "game-a")
		require.NoError(t, err)
		b, err := store.AppCreate(ctx, db.Pool, "game-b")
		require.NoError(t, err)
		return &testBundle{db: db, appA: a.AppID, appB: b.AppID}
	}
	params := func(app uuid.UUID, level string, i int) *store.LevelModelInsertParams {
		return &store.LevelModelInsertParams{
			AppID: app, LevelName: level, BlobKey: fmt.Sprintf("%064x", i), SizeBytes: int64(100 + i),
			Format: "glb", OriginalFilename: "level.glb", ContentType: "model/gltf-binary",
		}
	}

	t.Run("AppName", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		name, err := store.AppName(ctx, b.db.Pool, b.appA)
		require.NoError(t, err)
		require.Equal(t, "game-a", name)
		_, err = store.AppName(ctx, b.db.Pool, uuid.New())
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ConcurrentInsertsGetDistinctVersions", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const n = 20
		start := make(chan struct{})
		var wg sync.WaitGroup
		versions := make([]int, n)
		for i := range n {
			wg.Go(func() {
				<-start
				level := "Level_1"
				if i%4 == 0 {
					level = "Level_2" // other levels proceed alongside
				}
				m, err := store.LevelModelInsert(ctx, b.db.Pool, params(b.appA, level, i))
				require.NoError(t, err)
				if level == "Level_1" {
					versions[i] = m.Version
				}
			})
		}
		close(start)
		wg.Wait()
		got := slices.DeleteFunc(versions, func(v int) bool { return v == 0 })
		slices.Sort(got)
		want := make([]int, 15)
		for i := range want {
			want[i] = i + 1
		}
		require.Equal(t, want, got)
	})

	t.Run("GetIsScopedToTheApp", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		m, err := store.LevelModelInsert(ctx, b.db.Pool, params(b.appA, "Level_1", 1))
		require.NoError(t, err)

		got, err := store.LevelModelGet(ctx, b.db.Pool, &store.LevelModelGetParams{AppID: b.appA, ID: m.ID})
		require.NoError(t, err)
		require.Equal(t, m, got)

		_, err = store.LevelModelGet(ctx, b.db.Pool, &store.LevelModelGetParams{AppID: b.appB, ID: m.ID})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = store.LevelModelGet(ctx, b.db.Pool, &store.LevelModelGetParams{AppID: b.appA, ID: uuid.New()})
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("InsertNumbersVersionsPerAppAndLevel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i, tc := range []struct {
			app   uuid.UUID
			level string
			want  int
		}{
			{b.appA, "Level_1", 1},
			{b.appA, "Level_1", 2},
			{b.appA, "Level_2", 1},
			{b.appB, "Level_1", 1},
			{b.appA, "Level_1", 3},
		} {
			m, err := store.LevelModelInsert(ctx, b.db.Pool, params(tc.app, tc.level, i))
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Version, "insert %d", i)
			require.Equal(t, tc.app, m.AppID)
			require.Equal(t, tc.level, m.LevelName)
			require.Equal(t, fmt.Sprintf("%064x", i), m.BlobKey)
			require.Equal(t, int64(100+i), m.SizeBytes)
			require.Equal(t, "glb", m.Format)
			require.Equal(t, "level.glb", m.OriginalFilename)
			require.Equal(t, "model/gltf-binary", m.ContentType)
			require.False(t, m.CreatedAt.IsZero())
		}
	})

	t.Run("InsertRejectsWhatTheSchemaForbids", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, mutate := range map[string]func(p *store.LevelModelInsertParams){
			"BadBlobKey":    func(p *store.LevelModelInsertParams) { p.BlobKey = "../../etc/passwd" },
			"EmptyLevel":    func(p *store.LevelModelInsertParams) { p.LevelName = "" },
			"UnknownApp":    func(p *store.LevelModelInsertParams) { p.AppID = uuid.New() },
			"UnknownFormat": func(p *store.LevelModelInsertParams) { p.Format = "exe" },
			"ZeroSize":      func(p *store.LevelModelInsertParams) { p.SizeBytes = 0 },
		} {
			p := params(b.appA, "Level_1", 1)
			mutate(p)
			_, err := store.LevelModelInsert(ctx, b.db.Pool, p)
			require.Error(t, err, name)
		}
		models, err := store.LevelModelList(ctx, b.db.Pool, &store.LevelModelListParams{AppID: b.appA})
		require.NoError(t, err)
		require.Empty(t, models)
	})

	t.Run("ListNewestFirstWithLevelFilter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ids []uuid.UUID
		for i, level := range []string{"Level_1", "Level_2", "Level_1", "Level_1"} {
			m, err := store.LevelModelInsert(ctx, b.db.Pool, params(b.appA, level, i))
			require.NoError(t, err)
			ids = append(ids, m.ID)
		}
		_, err := store.LevelModelInsert(ctx, b.db.Pool, params(b.appB, "Level_1", 9))
		require.NoError(t, err)

		all, err := store.LevelModelList(ctx, b.db.Pool, &store.LevelModelListParams{AppID: b.appA})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{ids[3], ids[2], ids[1], ids[0]}, modelIDs(all))

		one, err := store.LevelModelList(ctx, b.db.Pool, &store.LevelModelListParams{AppID: b.appA, LevelName: "Level_1"})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{ids[3], ids[2], ids[0]}, modelIDs(one))
		require.Equal(t, []int{3, 2, 1}, []int{one[0].Version, one[1].Version, one[2].Version})

		limited, err := store.LevelModelList(ctx, b.db.Pool, &store.LevelModelListParams{AppID: b.appA, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{ids[3], ids[2]}, modelIDs(limited))

		none, err := store.LevelModelList(ctx, b.db.Pool, &store.LevelModelListParams{AppID: b.appA, LevelName: "Nope"})
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

func modelIDs(models []store.LevelModel) []uuid.UUID {
	ids := make([]uuid.UUID, len(models))
	for i := range models {
		ids[i] = models[i].ID
	}
	return ids
}

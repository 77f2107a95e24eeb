package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestBlobsReferenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	key := func(i int) string { return fmt.Sprintf("%064x", i) }

	_, err = store.LevelModelInsert(ctx, db.Pool, &store.LevelModelInsertParams{AppID: app.AppID, LevelName: "L1",
		BlobKey: key(1), SizeBytes: 10, Format: "glb", OriginalFilename: "l.glb", ContentType: "model/gltf-binary"})
	require.NoError(t, err)
	require.NoError(t, store.EmoteInsert(ctx, db.Pool, &store.Emote{ID: uuid.Must(uuid.NewV7()),
		AppID: app.AppID, UserID: "u", Name: "wave", EndMS: 2000, VideoKey: key(2), VideoSize: 10, VideoFormat: "mp4"}))
	g := &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m", Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}
	require.NoError(t, store.GenerationInsert(ctx, db.Pool, g))
	_, err = db.Pool.Exec(ctx, `UPDATE generations SET image_key = $2 WHERE id = $1`, g.ID, key(3))
	require.NoError(t, err)
	// A generation without an image names no blob, not the empty key.
	require.NoError(t, store.GenerationInsert(ctx, db.Pool, &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m",
		Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}))

	got, err := store.BlobsReferenced(ctx, db.Pool, []string{key(1), key(2), key(3), key(4), ""})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{key(1): true, key(2): true, key(3): true}, got)

	got, err = store.BlobsReferenced(ctx, db.Pool, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

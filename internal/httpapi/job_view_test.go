package httpapi

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

// TestJobView checks that an emote and a generation are one object with the
// same top-level fields, in each state a client sees.
func TestJobView(t *testing.T) {
	t.Parallel()

	keys := func(t *testing.T, v any) []string {
		t.Helper()
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return slices.Sorted(maps.Keys(m))
	}
	decode := func(t *testing.T, v any) map[string]any {
		t.Helper()
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	emote := func() *store.Emote {
		return &store.Emote{ID: uuid.New(), AppID: uuid.New(), UserID: "u", Name: "wave", StartMS: 0, EndMS: 2000,
			VideoSize: 10, VideoFormat: "mp4", Status: store.JobQueued, CreatedAt: now, UpdatedAt: now}
	}
	generation := func() *store.Generation {
		return &store.Generation{ID: uuid.New(), AppID: uuid.New(), Model: "m", Input: json.RawMessage(`{"prompt":"a cat"}`),
			Status: store.JobQueued, DeadlineAt: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now}
	}
	want := []string{"created_at", "details", "error", "finished_at", "id", "input", "kind", "result", "status", "updated_at"}

	t.Run("QueuedHasNullResultErrorAndFinish", func(t *testing.T) {
		t.Parallel()
		for _, v := range []*jobView{viewEmote(emote()), newGenerationView(generation(), "")} {
			require.Equal(t, want, keys(t, v))
			m := decode(t, v)
			require.Equal(t, "queued", m["status"])
			require.Nil(t, m["result"])
			require.Nil(t, m["error"])
			require.Nil(t, m["finished_at"])
		}
		require.Equal(t, "emote", decode(t, viewEmote(emote()))["kind"])
		require.Equal(t, "generation", decode(t, newGenerationView(generation(), ""))["kind"])
	})

	t.Run("EndedHaveTheSameFields", func(t *testing.T) {
		t.Parallel()
		e := emote()
		e.Status, e.ErrorCode, e.ErrorMessage, e.FinishedAt = store.JobTimedOut, "timed_out", "too slow", now
		g := generation()
		g.Status, g.ErrorCode, g.ErrorMessage, g.FinishedAt = store.JobTimedOut, "timed_out", "too slow", &now
		for _, v := range []*jobView{viewEmote(e), newGenerationView(g, "")} {
			require.Equal(t, want, keys(t, v))
			m := decode(t, v)
			require.Equal(t, "timed_out", m["status"])
			require.Equal(t, map[string]any{"code": "timed_out", "message": "too slow"}, m["error"])
			require.Equal(t, "2026-01-02T03:04:05Z", m["finished_at"])
		}
	})

	t.Run("ResultIsTheKindsOwn", func(t *testing.T) {
		t.Parallel()
		e := emote()
		e.Status, e.Result, e.FinishedAt = store.JobSucceeded, json.RawMessage(`{"emote_uuid":"x"}`), now
		require.Equal(t, map[string]any{"emote_uuid": "x"}, decode(t, viewEmote(e))["result"])
		g := generation()
		g.Status, g.ImageKey, g.ImageSize, g.ImageContentType, g.FinishedAt = store.JobSucceeded, "k", 5, "image/png", &now
		res := decode(t, newGenerationView(g, "https://api.example"))["result"].(map[string]any)
		require.Equal(t, "https://api.example/v1/generations/"+g.ID.String()+"/image", res["image_url"])
	})
}

// TestJobCursor checks that a cursor survives its round trip and that
// anything else is refused.
func TestJobCursor(t *testing.T) {
	t.Parallel()
	c := &store.JobCursor{CreatedAt: time.UnixMicro(time.Now().UnixMicro()), ID: uuid.New()}
	got := decodeJobCursor(encodeJobCursor(c))
	require.NotNil(t, got)
	require.True(t, c.CreatedAt.Equal(got.CreatedAt))
	require.Equal(t, c.ID, got.ID)
	for _, bad := range []string{"", "***", "bm9wZQ", encodeJobCursor(c)[:10]} {
		require.Nil(t, decodeJobCursor(bad), bad)
	}
}

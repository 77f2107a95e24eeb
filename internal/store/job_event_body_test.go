package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestJobEventBody(t *testing.T) {
	t.Parallel()
	g := &Generation{ID: uuid.New(), Model: "m", Status: JobSucceeded, DeadlineAt: time.Now(),
		// An input that names an image URL of its own is left alone.
		Input:    json.RawMessage(`{"prompt":"\"image_url\":\"/v1/generations/x/image\""}`),
		ImageKey: "k", ImageContentType: "image/png", ImageSize: 1}
	body, err := json.Marshal(&JobEvent{Type: "generation.succeeded", Sequence: 3, Data: g.Object("")})
	require.NoError(t, err)
	rel := "/v1/generations/" + g.ID.String() + "/image"
	require.Contains(t, string(body), `"image_url":"`+rel+`"`)

	out := JobEventBody(body, "https://api.example/")
	want, err := json.Marshal(&JobEvent{Type: "generation.succeeded", Sequence: 3, Data: g.Object("https://api.example")})
	require.NoError(t, err)
	require.Equal(t, string(want), string(out), "as if built with the base: only image_url changes")

	require.Equal(t, string(body), string(JobEventBody(body, "")), "without a base, relative")
	queued := &Generation{ID: g.ID, Model: "m", Status: JobQueued, Input: g.Input, DeadlineAt: g.DeadlineAt}
	noImage, err := json.Marshal(&JobEvent{Type: "generation.queued", Data: queued.Object("")})
	require.NoError(t, err)
	require.Equal(t, string(noImage), string(JobEventBody(noImage, "https://api.example")))
	require.Equal(t, "not json", string(JobEventBody([]byte("not json"), "https://api.example")))
}

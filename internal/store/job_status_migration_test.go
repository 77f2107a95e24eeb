package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestJobStatusVocabularyMigration puts the tables back as they were before
// migrations/0020_job_status_vocabulary.sql, with rows in the old words, and
// runs it again: every old word becomes its new one, and the old words are
// refused afterwards.
func TestJobStatusVocabularyMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "vocabulary")
	require.NoError(t, err)

	_, err = db.Pool.Exec(ctx, `
		ALTER TABLE emotes DROP CONSTRAINT emotes_status_check;
		ALTER TABLE emotes ADD CONSTRAINT emotes_status_check CHECK (status IN ('queued', 'processing',
			'awaiting_validation', 'validating', 'retaking', 'awaiting_video', 'completed', 'failed', 'cancelled'));
		ALTER TABLE generations DROP CONSTRAINT generations_status_check;
		ALTER TABLE generations ADD CONSTRAINT generations_status_check CHECK (status IN ('queued', 'submitting',
			'submitted', 'running', 'finalizing', 'succeeded', 'failed', 'timed_out', 'cancelled'));
		DELETE FROM gamepipe_migrations WHERE name = '0020_job_status_vocabulary.sql'`)
	require.NoError(t, err)

	emote := func(status, code string) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		_, err := db.Pool.Exec(ctx, `INSERT INTO emotes (id, app_id, user_id, name, start_ms, end_ms, mature,
				video_key, video_size, video_format, status, error_code)
			VALUES ($1, $2, 'u', 'wave', 0, 1000, false, 'k', 1, 'mp4', $3, NULLIF($4, ''))`, id, app.AppID, status, code)
		require.NoError(t, err)
		return id
	}
	generation := func(status, code string) uuid.UUID {
		id := uuid.New()
		_, err := db.Pool.Exec(ctx, `INSERT INTO generations (id, app_id, model, input, status, error_code, deadline_at)
			VALUES ($1, $2, 'm', '{}', $3, $4, $5)`, id, app.AppID, status, code, time.Now())
		require.NoError(t, err)
		return id
	}
	emotes := map[uuid.UUID][2]string{
		emote("completed", ""):               {"succeeded", ""},
		emote("cancelled", ""):               {"canceled", "canceled"},
		emote("failed", "deadline_exceeded"): {"timed_out", "timed_out"},
		emote("failed", "kinetix_error"):     {"failed", "kinetix_error"},
		emote("awaiting_validation", ""):     {"awaiting_validation", ""},
	}
	generations := map[uuid.UUID][2]string{
		generation("running", ""):            {"processing", ""},
		generation("cancelled", "cancelled"): {"canceled", "canceled"},
		generation("timed_out", "timed_out"): {"timed_out", "timed_out"},
		generation("succeeded", ""):          {"succeeded", ""},
	}

	res, err := store.Migrate(ctx, db.Pool)
	require.NoError(t, err)
	require.Equal(t, []string{"0020_job_status_vocabulary"}, res.Applied)

	for id, want := range emotes {
		var status, code string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT status, coalesce(error_code, '') FROM emotes WHERE id = $1`, id).Scan(&status, &code))
		require.Equal(t, want, [2]string{status, code})
		require.True(t, store.JobStatus(status).ValidFor(store.EmoteStatuses), status)
	}
	for id, want := range generations {
		var status, code string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT status, error_code FROM generations WHERE id = $1`, id).Scan(&status, &code))
		require.Equal(t, want, [2]string{status, code})
		require.True(t, store.JobStatus(status).ValidFor(store.GenerationStatuses), status)
	}
	for _, old := range []string{"completed", "cancelled"} {
		_, err := db.Pool.Exec(ctx, `UPDATE emotes SET status = $1`, old)
		require.Error(t, err, old)
	}
	for _, old := range []string{"running", "cancelled"} {
		_, err := db.Pool.Exec(ctx, `UPDATE generations SET status = $1`, old)
		require.Error(t, err, old)
	}
}

-- Emotes: a player's video turned into a Kinetix user-generated emote. The
-- row holds the state machine and the upstream ids; the River jobs
-- (kinetix_emote, kinetix_validate, kinetix_retake, kinetix_notify) read it
-- first and change it under a row lock, so any step may run twice.
-- docs/upstreams-kinetix.md describes the statuses.
CREATE TABLE emotes (
    id                     uuid PRIMARY KEY,
    app_id                 uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id                text NOT NULL CHECK (user_id <> '' AND length(user_id) <= 200),
    name                   text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    -- start_ms and end_ms are the clip of the video to animate
    -- ("HH:MM:SS.mmm" in the API and upstream).
    start_ms               bigint NOT NULL CHECK (start_ms >= 0),
    end_ms                 bigint NOT NULL,
    mature                 boolean NOT NULL,
    -- video_key is the blob (content address) of the uploaded video.
    video_key              text NOT NULL,
    video_size             bigint NOT NULL CHECK (video_size > 0),
    video_format           text NOT NULL,
    -- video_pending: a retake asked for a new video that has not come yet.
    video_pending          boolean NOT NULL DEFAULT false,
    status                 text NOT NULL CHECK (status IN ('queued', 'processing', 'awaiting_validation',
                               'validating', 'retaking', 'awaiting_video', 'completed', 'failed', 'cancelled')),
    -- status_seq counts status changes; notified_seq is the last one
    -- published, so a notification lost to a crash is sent by the next run.
    status_seq             int NOT NULL DEFAULT 1,
    notified_seq           int NOT NULL DEFAULT 0,
    -- job_id is the River job currently driving the row (DELETE cancels it).
    job_id                 bigint,
    kinetix_process_uuid   uuid,
    previous_process_uuids uuid[] NOT NULL DEFAULT '{}',
    -- token is the upstream process token: a credential, stored so a retry
    -- can ask the upstream which process it made. Never logged.
    token                  text,
    token_created_at       timestamptz,
    token_status           text CHECK (token_status IN ('issued', 'used', 'expired')),
    validation_flow        boolean NOT NULL DEFAULT false,
    upstream_status        text,
    processing_started_at  timestamptz,
    result                 jsonb,
    error_code             text,
    error_message          text,
    retake_count           int NOT NULL DEFAULT 0,
    idempotency_key        text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    finished_at            timestamptz,
    CHECK (end_ms > start_ms)
);

-- The list API pages by (created_at, id) descending, optionally filtered by
-- user or status.
CREATE INDEX emotes_app_created_idx ON emotes (app_id, created_at DESC, id DESC);
CREATE INDEX emotes_app_user_created_idx ON emotes (app_id, user_id, created_at DESC, id DESC);
CREATE INDEX emotes_app_status_created_idx ON emotes (app_id, status, created_at DESC, id DESC);
-- One row per upstream process, whatever retries happen.
CREATE UNIQUE INDEX emotes_kinetix_process_uuid_idx ON emotes (kinetix_process_uuid)
    WHERE kinetix_process_uuid IS NOT NULL;

-- AI image generations (issue: AI image jobs). One row per generation holds
-- its state machine, the upstream ids, the stored image and the steps of
-- the publish chain, so every job step can read the row, check, and write
-- under a row lock, and a retry resumes where the last run stopped.
CREATE TABLE generations (
    id                    uuid PRIMARY KEY,
    app_id                uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    model                 text NOT NULL,
    -- input is the validated generation input sent upstream as is.
    input                 jsonb NOT NULL,
    -- publish is {"collection","name","description","attributes"} or NULL.
    publish               jsonb,
    -- queued -> submitting -> submitted -> running -> finalizing -> succeeded,
    -- or failed / timed_out / cancelled. submitting means the callback token
    -- is committed and the upstream call may have been made.
    status                text NOT NULL DEFAULT 'queued' CHECK (status IN (
                              'queued', 'submitting', 'submitted', 'running', 'finalizing',
                              'succeeded', 'failed', 'timed_out', 'cancelled')),
    progress              smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    workload_id           text NOT NULL DEFAULT '',
    -- ws_jwt is the upstream's websocket token for workload_id (no webhook).
    ws_jwt                text NOT NULL DEFAULT '',
    -- callback_token_hashes are SHA-256 hashes of the webhook capability
    -- tokens issued for this generation, one per submit attempt, so a
    -- callback for an earlier attempt still lands on this row.
    callback_token_hashes bytea[] NOT NULL DEFAULT '{}'
                              CHECK (cardinality(callback_token_hashes) <= 16),
    submit_attempts       int NOT NULL DEFAULT 0,
    -- resubmits counts submits made while an earlier one may have reached
    -- the upstream (crash between the upstream call and the row update).
    resubmits             int NOT NULL DEFAULT 0,
    upstream_link         text NOT NULL DEFAULT '',
    -- completions counts completion messages received (webhook or socket);
    -- late_completions those that changed nothing: duplicates, and those
    -- that arrived after a terminal state (late_link keeps such a link).
    completions           int NOT NULL DEFAULT 0,
    late_completions      int NOT NULL DEFAULT 0,
    late_link             text NOT NULL DEFAULT '',
    image_key             text NOT NULL DEFAULT '',
    image_size            bigint NOT NULL DEFAULT 0,
    image_content_type    text NOT NULL DEFAULT '',
    -- The publish chain: token_id once reserved, then token_created, then
    -- upload_done.
    token_id              text,
    token_collection      text NOT NULL DEFAULT '',
    token_created         boolean NOT NULL DEFAULT false,
    upload_done           boolean NOT NULL DEFAULT false,
    error_code            text NOT NULL DEFAULT '',
    error_message         text NOT NULL DEFAULT '',
    deadline_at           timestamptz NOT NULL,
    submitted_at          timestamptz,
    completed_at          timestamptz,
    finished_at           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- The list: newest first per app, by (created_at, id) for a stable cursor,
-- optionally filtered by status.
CREATE INDEX generations_app_created_idx ON generations (app_id, created_at DESC, id DESC);
CREATE INDEX generations_app_status_created_idx ON generations (app_id, status, created_at DESC, id DESC);

-- A token id belongs to one generation: two generations publishing at once
-- cannot both reserve the id the upstream offers as next.
CREATE UNIQUE INDEX generations_token_id_idx ON generations (token_id) WHERE token_id IS NOT NULL;

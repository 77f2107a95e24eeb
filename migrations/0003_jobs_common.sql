-- Per-app upstream credentials (issues: emotes, AI images). These are keys
-- gamepipe must present to the upstreams, so they are kept usable, not
-- hashed; apps without one use the process-wide key from the environment.
ALTER TABLE apps
    ADD COLUMN kinetix_api_key    text,
    ADD COLUMN generaitiv_api_key text;

-- Idempotency-Key support for the job APIs: the first answer to a key is
-- stored in the same transaction as the row it created and replayed for
-- retries of the same request.
CREATE TABLE idempotency_keys (
    app_id       uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- route is "POST /v1/emotes" and the like: a key is scoped to its route.
    route        text NOT NULL,
    -- request_hash tells a retry from a different request reusing the key.
    request_hash bytea NOT NULL,
    status       int NOT NULL,
    body         jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, route, key)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

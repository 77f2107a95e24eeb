-- Apps and their API keys. Keys are stored only as SHA-256 hashes.
CREATE TABLE apps (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (name <> '' AND length(name) <= 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_keys (
    hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
    app_id     uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('public', 'secret')),
    -- prefix is the key's first characters, safe to show and log.
    prefix     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- expires_at is set when the key is rotated out (with an optional grace).
    expires_at timestamptz
);

CREATE INDEX app_keys_app_id_idx ON app_keys (app_id);

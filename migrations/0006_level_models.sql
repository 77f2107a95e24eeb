-- Level models uploaded through POST /api/models. The file itself lives in
-- blob storage under its SHA-256 (blob_key); a row records who uploaded what
-- for which level. Each upload of a level adds a version: 1, 2, … per
-- (app, level), assigned under a per-level advisory lock (store.LevelModelInsert).
CREATE TABLE level_models (
    id                uuid PRIMARY KEY,
    app_id            uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    level_name        text NOT NULL CHECK (level_name <> '' AND length(level_name) <= 200),
    version           int NOT NULL CHECK (version > 0),
    blob_key          text NOT NULL CHECK (blob_key ~ '^[0-9a-f]{64}$'),
    size_bytes        bigint NOT NULL CHECK (size_bytes > 0),
    -- format is sniffed from the content, never taken from the client.
    format            text NOT NULL CHECK (format IN ('gltf', 'glb', 'obj', 'fbx')),
    -- original_filename is the client's filename, sanitised; only recorded
    -- (for Content-Disposition), never used as a path.
    original_filename text NOT NULL DEFAULT '' CHECK (length(original_filename) <= 255),
    -- content_type is the type served on download, derived from format.
    content_type      text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app_id, level_name, version)
);

CREATE INDEX level_models_app_id_created_at_idx ON level_models (app_id, created_at DESC);
-- blob_key is indexed for a sweep of blobs no row references.
CREATE INDEX level_models_blob_key_idx ON level_models (blob_key);

-- Blobs kept in Postgres (BLOB_STORE=postgres), so that every api and
-- worker copy, on any machine, sees the same files (docs/scaling.md). A
-- blob is a row of blobs naming its upload, whose content is split into
-- fixed-size chunks of blob_chunks. updated_at is the last Put of the
-- content: the sweep deletes only blobs older than its grace.
CREATE TABLE blobs (
    key        text        PRIMARY KEY,
    upload_id  uuid        NOT NULL UNIQUE,
    size       bigint      NOT NULL,
    chunk_size integer     NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blobs_updated_at_idx ON blobs (updated_at);

CREATE TABLE blob_chunks (
    upload_id uuid    NOT NULL,
    n         integer NOT NULL,
    data      bytea   NOT NULL,
    PRIMARY KEY (upload_id, n)
);
-- Videos, models and images are compressed already: store them as they
-- are, out of line, without pglz's attempt.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

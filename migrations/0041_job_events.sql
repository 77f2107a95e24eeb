-- What game servers hear (docs/webhooks.md). job_events keeps every status
-- change of an app's jobs, written in the transaction of the change: seq
-- numbers an app's events for GET /v1/events (Last-Event-ID) from
-- job_event_seqs, whose row stays locked until the change commits, so an
-- app's events commit in seq order and a reader never skips one; object_seq
-- numbers one job's events so a receiver can drop a stale one, and body is
-- the payload exactly as signed and sent. webhook_deliveries is one event
-- (or a test ping) for one endpoint, with its River job; webhook_attempts
-- logs every try of it.
CREATE TABLE job_event_seqs (
    app_id uuid PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    seq    bigint NOT NULL
);

CREATE TABLE job_events (
    app_id     uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    id         uuid NOT NULL UNIQUE,
    type       text NOT NULL,
    object_id  uuid NOT NULL,
    object_seq bigint NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, seq),
    UNIQUE (object_id, object_seq)
);

CREATE TABLE webhook_deliveries (
    id          uuid PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    app_id      uuid NOT NULL,
    event_id    uuid NOT NULL,
    type        text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id);

CREATE TABLE webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    duration_ms integer NOT NULL,
    response    text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

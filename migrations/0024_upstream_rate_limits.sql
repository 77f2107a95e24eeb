-- The client-side rate limit of an upstream API key, shared by every
-- worker process (docs/app-share.md, docs/scaling.md). One row per key,
-- named by a hash of the key (never the key): next_at is the earliest
-- time the next call may be sent. A call takes its time under the row's
-- lock and moves next_at one interval on, so calls from every process are
-- spaced as one client's would be.
CREATE TABLE upstream_rate_limits (
    key_hash bytea       PRIMARY KEY,
    next_at  timestamptz NOT NULL
);

-- Dashboard sessions (docs/dashboard.md, "Signing in"): a browser signs in
-- with the app's secret key once and then holds only a random session
-- token in a cookie. Only the token's SHA-256 is stored.
--
-- A session belongs to the key row that created it: the dashboard accepts
-- it only while that key still authenticates (store.KeyLookup: not expired,
-- app not disabled), so rotating the secret key ends its sessions when the
-- old key expires, and deleting the key (or the app) deletes them.
CREATE TABLE dashboard_sessions (
    token_hash bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    app_id     uuid        NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    key_hash   bytea       NOT NULL REFERENCES app_keys (hash) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX dashboard_sessions_key_hash_idx ON dashboard_sessions (key_hash);
-- Sign-in deletes expired sessions by this index.
CREATE INDEX dashboard_sessions_expires_at_idx ON dashboard_sessions (expires_at);

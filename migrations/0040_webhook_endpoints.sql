-- Webhook endpoints: where an app wants to hear about its jobs
-- (docs/webhooks.md). secret is the signing secret, sealed with
-- GAMEPIPE_SECRETS_KEY when one is configured (gpenc1:…), else in clear
-- (whsec_…): it must be read back to sign. previous_secret still signs, next
-- to secret, until previous_secret_expires_at (a rotation's overlap).
-- disabled_reason says why gamepipe turned an endpoint off (410 Gone, failing
-- for too long); failing_since is when its current run of failures began.
CREATE TABLE webhook_endpoints (
    id                         uuid PRIMARY KEY,
    app_id                     uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    url                        text NOT NULL,
    event_types                text[] NOT NULL,
    description                text NOT NULL DEFAULT '',
    enabled                    boolean NOT NULL DEFAULT true,
    disabled_reason            text,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_app_idx ON webhook_endpoints (app_id, created_at);

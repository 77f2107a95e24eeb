-- Funnels saved by name, per app (docs/dashboard.md, "Saved funnels"): what
-- the Funnels page and GET /dashboard/api/funnel take, stored so a team can
-- reopen a funnel by its name. Saving under a name that exists replaces it.
CREATE TABLE dashboard_funnels (
    app_id         uuid        NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    steps          text[]      NOT NULL,
    window_seconds bigint      NOT NULL,
    per            text        NOT NULL,
    -- breakdown is the funnel's by (build_id, region, input_method); NULL
    -- for none.
    breakdown      text,
    -- filters maps build_id, region, input_method, level_id to the values
    -- the funnel is filtered by.
    filters        jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, name)
);

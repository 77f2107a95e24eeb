-- Daily rollups for the dashboard (docs/dashboard.md, "Rollups"): what the
-- overview and performance views read for whole UTC days instead of
-- scanning raw rows. dashboard.Rollup (the worker's periodic
-- dashboard_rollup job) rebuilds an app's day whenever its raw row counts
-- no longer match, so running it again changes nothing.
--
-- build_id and region are NULL where the rows had none; the unique indexes
-- treat NULLs as equal so an app-day has one row per group.

-- dashboard_rollup_days lists the app-days rolled up: a view may read the
-- rollups for exactly these days.
CREATE TABLE dashboard_rollup_days (
    app_id       uuid        NOT NULL,
    day          date        NOT NULL,
    rolled_up_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, day)
);

-- Events per app, day, kind (player, funnel, gameplay, realtime), build
-- and region (the player's, from players, when the day was rolled up).
CREATE TABLE dashboard_daily_counts (
    app_id   uuid   NOT NULL,
    day      date   NOT NULL,
    kind     text   NOT NULL,
    build_id text,
    region   text,
    events   bigint NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_counts_key
    ON dashboard_daily_counts (app_id, day, kind, build_id, region) NULLS NOT DISTINCT;

-- Trajectories with an fps_mean by app, day, build, region and metric
-- (mean, low_5, low_1), in buckets of 0.1 fps: bucket b holds the values
-- in [b/10, (b+1)/10). Counts add up across days, so percentiles over any
-- set of days come from the buckets; fps_sum keeps averages exact.
CREATE TABLE dashboard_daily_fps (
    app_id       uuid             NOT NULL,
    day          date             NOT NULL,
    build_id     text,
    region       text,
    metric       text             NOT NULL CHECK (metric IN ('mean', 'low_5', 'low_1')),
    bucket       integer          NOT NULL,
    trajectories bigint           NOT NULL,
    fps_sum      double precision NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_fps_key
    ON dashboard_daily_fps (app_id, day, build_id, region, metric, bucket) NULLS NOT DISTINCT;

-- Each app-day's distinct (player, session) pairs with their events, by build
-- and region: distinct active players and sessions over any days come from
-- these rows (far fewer than events) without double counting. Player events
-- have no session (NULL).
CREATE TABLE dashboard_daily_sessions (
    app_id     uuid   NOT NULL,
    day        date   NOT NULL,
    build_id   text,
    region     text,
    player_id  text   NOT NULL,
    session_id text,
    events     bigint NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_sessions_key
    ON dashboard_daily_sessions (app_id, day, player_id, session_id, build_id, region) NULLS NOT DISTINCT;

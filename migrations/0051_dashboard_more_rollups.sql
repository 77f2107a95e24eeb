-- More daily rollups for the dashboard's performance view, the overview's
-- top events and the funnel step names (docs/dashboard.md, "Rollups"), kept by
-- dashboard.Rollup beside those of migrations/0031_dashboard_rollups.sql.
-- value, build_id and region are NULL where the rows had none; the unique
-- indexes treat NULLs as equal.

-- Trajectories with an fps_mean by app, day, one dimension (build_id; gpu,
-- the player's hardware.gpu in players when the day was rolled up; or
-- level_id, the trajectory's, migrations/0050) and metric, in the 0.1-fps
-- buckets of dashboard_daily_fps, one row per group and metric: buckets
-- holds the buckets with trajectories, ascending, and counts their
-- trajectories. A month of a group's buckets is a few dozen rows to read.
CREATE TABLE dashboard_daily_fps_by (
    app_id       uuid             NOT NULL,
    day          date             NOT NULL,
    dimension    text             NOT NULL CHECK (dimension IN ('build_id', 'gpu', 'level_id')),
    value        text,
    metric       text             NOT NULL CHECK (metric IN ('mean', 'low_5', 'low_1')),
    buckets      integer[]        NOT NULL,
    counts       bigint[]         NOT NULL,
    trajectories bigint           NOT NULL,
    fps_sum      double precision NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_fps_by_key
    ON dashboard_daily_fps_by (app_id, day, dimension, value, metric) NULLS NOT DISTINCT;

-- Each app-day's distinct players with a trajectory with an fps_mean, per
-- build, GPU or level of those trajectories, with the player's region:
-- distinct players over any days come from these rows.
CREATE TABLE dashboard_daily_perf_players (
    app_id    uuid NOT NULL,
    day       date NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('build_id', 'gpu', 'level_id')),
    value     text,
    region    text,
    player_id text NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_perf_players_key
    ON dashboard_daily_perf_players (app_id, day, dimension, value, region, player_id) NULLS NOT DISTINCT;

-- Each app-day's gameplay events per event_name (kind 'gameplay') and
-- funnel steps per funnel_step_name (kind 'funnel') and player, by build
-- and region (the player's, as in dashboard_daily_counts): the top events'
-- and the step names' counts and distinct players over any days come from
-- these rows.
CREATE TABLE dashboard_daily_name_players (
    app_id    uuid   NOT NULL,
    day       date   NOT NULL,
    kind      text   NOT NULL CHECK (kind IN ('gameplay', 'funnel')),
    build_id  text,
    region    text,
    name      text   NOT NULL,
    player_id text   NOT NULL,
    events    bigint NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_name_players_key
    ON dashboard_daily_name_players (app_id, day, kind, name, player_id, build_id, region) NULLS NOT DISTINCT;

-- Every day rolled up before these tables existed is rolled up again by the
-- job's next run.
DELETE FROM dashboard_rollup_days;

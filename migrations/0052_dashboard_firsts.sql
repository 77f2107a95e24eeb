-- Distinct players, sessions, players per gameplay event name and per
-- funnel step name, and players per build, GPU or level with trajectories,
-- over any run of rolled-up days, without counting pairs at query time
-- (docs/dashboard.md, "Rollups"). dashboard.Rollup keeps these rows with
-- the day rollups they come from (dashboard_daily_sessions,
-- dashboard_daily_name_players, dashboard_daily_perf_players).
--
-- An item (a player; a player's session; a player and an event or step
-- name; a player with trajectories and their build, GPU or level) is
-- active on some days. For each day it is active on, prev_day is the
-- latest earlier day it was active on, looked for up to 90 days back (NULL
-- when none). Over the days [d1, d2] (at most 90 days apart), the distinct
-- items are those of each day whose prev_day is NULL or before d1: each
-- counted on its first day in the run. The rows count the items of a day
-- per prev_day, so a view sums a few rows per day.
--
-- grouping says which filters the items are kept under: 'all' (any build
-- and region: build_id and region are NULL), 'build', 'region' or
-- 'build_region' (activity with that build, or region, or both, the
-- player's region as in the day rollups).
CREATE TABLE dashboard_daily_firsts (
    app_id     uuid   NOT NULL,
    day        date   NOT NULL,
    grouping   text   NOT NULL CHECK (grouping IN ('all', 'build', 'region', 'build_region')),
    build_id   text,
    region     text,
    metric     text   NOT NULL CHECK (metric IN ('players', 'sessions', 'event_players', 'step_players',
                                                 'perf_build_id', 'perf_gpu', 'perf_level_id')),
    -- name is the event or step name of event_players and step_players
    -- items, the build, GPU or level of perf_* items (players with
    -- trajectories, from dashboard_daily_perf_players, kept by 'all' and
    -- 'region' only); NULL otherwise.
    name       text,
    prev_day   date,
    items      bigint NOT NULL,
    -- events sums the events (steps) of the named items on the day.
    events     bigint NOT NULL
);

CREATE UNIQUE INDEX dashboard_daily_firsts_key
    ON dashboard_daily_firsts (app_id, grouping, build_id, region, day, metric, name, prev_day) NULLS NOT DISTINCT;

-- An item's earlier days, for prev_day and for the views' raw rows.
CREATE INDEX dashboard_daily_sessions_item_idx
    ON dashboard_daily_sessions (app_id, player_id, session_id, day) INCLUDE (build_id, region);
CREATE INDEX dashboard_daily_name_players_item_idx
    ON dashboard_daily_name_players (app_id, player_id, kind, name, day) INCLUDE (build_id, region);
CREATE INDEX dashboard_daily_perf_players_item_idx
    ON dashboard_daily_perf_players (app_id, player_id, dimension, value, day) INCLUDE (region);

-- Every day is rolled up again, which fills these rows.
DELETE FROM dashboard_rollup_days;

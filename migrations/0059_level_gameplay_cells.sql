-- The Levels views' other rollups (docs/dashboard.md, "Level rollups"),
-- kept by dashboard.Rollup (the worker's dashboard_rollup job) with the
-- other day rollups, in the same transaction per app-day.
--
-- Both tables split a level-day by slice: a combination of build_id, region
-- (the player's, when the day was rolled up) and input_method, each value
-- or NULL, plus for gameplay cells the event name. Slices are disjoint, so
-- the rows of any set of filters (none, one, two or three, and any event
-- names) add up exactly.

-- dashboard_level_counts: per app, UTC day, level (NULL: the unknown level)
-- and slice, what the levels list shows. gameplay_events counts the
-- gameplay events (by "timestamp"), positioned_events those with a position
-- and min_* / max_* bound those positions (NULL when there are none);
-- funnel_steps counts the funnel steps of a known level; trajectories and
-- points (their num_points) the trajectories by timestamp_start.
CREATE TABLE dashboard_level_counts (
    app_id            uuid             NOT NULL,
    day               date             NOT NULL,
    level_id          text,
    build_id          text,
    region            text,
    input_method      text,
    gameplay_events   bigint           NOT NULL,
    positioned_events bigint           NOT NULL,
    min_x             double precision,
    min_y             double precision,
    min_z             double precision,
    max_x             double precision,
    max_y             double precision,
    max_z             double precision,
    funnel_steps      bigint           NOT NULL,
    trajectories      bigint           NOT NULL,
    points            bigint           NOT NULL
);

CREATE UNIQUE INDEX dashboard_level_counts_key
    ON dashboard_level_counts (app_id, day, level_id, build_id, region, input_method) NULLS NOT DISTINCT;

-- dashboard_level_slice_cells: per app, UTC day, level and kind, the
-- level-day's cells split by slice, at one exponent: for gameplay events
-- (their positions) the finer of the two the trajectory cells would keep
-- for the day's extent of these positions (migrations/0056_level_cells.sql),
-- for trajectory points the coarser one of theirs. Cells of any coarser
-- grid are these indices shifted right.
--
-- Slice n (1-based) is (event_names[n], build_ids[n], regions[n],
-- input_methods[n]); event_names are NULL for trajectories. min_*[n] and
-- max_*[n] bound the slice's positions exactly. A cell entry is
-- (i[m], j[m], k[m]) of slice[m], holding counts[m] events or points,
-- sorted by (i, j, k, slice); for trajectories also the fps sums and
-- counts as in dashboard_level_cells (NULL for gameplay).
CREATE TABLE dashboard_level_slice_cells (
    app_id        uuid               NOT NULL,
    day           date               NOT NULL,
    level_id      text,
    kind          text               NOT NULL CHECK (kind IN ('gameplay', 'trajectory')),
    exp           integer            NOT NULL,
    event_names   text[]             NOT NULL,
    build_ids     text[]             NOT NULL,
    regions       text[]             NOT NULL,
    input_methods text[]             NOT NULL,
    min_x         double precision[] NOT NULL,
    min_y         double precision[] NOT NULL,
    min_z         double precision[] NOT NULL,
    max_x         double precision[] NOT NULL,
    max_y         double precision[] NOT NULL,
    max_z         double precision[] NOT NULL,
    i             integer[]          NOT NULL,
    j             integer[]          NOT NULL,
    k             integer[]          NOT NULL,
    slice         integer[]          NOT NULL,
    counts        bigint[]           NOT NULL,
    fps_mean_sum  bigint[],
    fps_mean_n    bigint[],
    fps_low_1_sum bigint[],
    fps_low_1_n   bigint[]
);

CREATE UNIQUE INDEX dashboard_level_slice_cells_key
    ON dashboard_level_slice_cells (app_id, level_id, kind, day) NULLS NOT DISTINCT;
-- A rebuild replaces an app-day's rows.
CREATE INDEX dashboard_level_slice_cells_app_day_idx ON dashboard_level_slice_cells (app_id, day);

-- level_slices says the app-day's rows of both tables are built. Days
-- rolled up before these tables existed get theirs at the job's next run
-- (within its lookback), with their level cells, without rolling up the
-- rest again.
ALTER TABLE dashboard_rollup_days ADD COLUMN level_slices boolean NOT NULL DEFAULT false;

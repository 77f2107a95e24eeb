-- The trajectory heatmap's cells (docs/dashboard.md, "Level heatmap
-- cells"): each level's trajectory points per app and UTC day of
-- timestamp_start, counted in cubes of edge 2^exp telemetry units, kept by
-- dashboard.Rollup (the worker's dashboard_rollup job) with the other day
-- rollups, in the same transaction per app-day.
--
-- Cell (i, j, k) at exp holds the points with floor(x / 2^exp) = i,
-- floor(y / 2^exp) = j, floor(z / 2^exp) = k. Each level-day is kept at
-- two exponents chosen from that day's extent of the level's points (its
-- largest side spans 33 to 64 cells at the coarser one); any coarser grid
-- is these cells' indices shifted right, so the views read them for every
-- cell edge at or above the finer exponent and read the raw trajectories
-- for finer ones.
--
-- grouping says which points a row holds: 'all' of the level-day's (value
-- NULL), or those whose build_id, region (the player's, when the day was
-- rolled up) or input_method is value. Points without that dimension are
-- in 'all' only, since a filter never matches them.
--
-- A row's cells are parallel arrays sorted by (i, j, k): counts are the
-- points; fps_mean_sum is the sum of the points' trajectories' fps_mean in
-- thousandths of a frame per second (each value rounded to 0.001, taken
-- between 0 and 1,000,000 fps), so sums over days are exact integers, and
-- fps_mean_n the points whose trajectory has an fps_mean; the same for
-- fps_low_1. min_* and max_* are the exact bounds of the row's points.
CREATE TABLE dashboard_level_cells (
    app_id        uuid             NOT NULL,
    day           date             NOT NULL,
    level_id      text,
    exp           integer          NOT NULL,
    grouping      text             NOT NULL CHECK (grouping IN ('all', 'build_id', 'region', 'input_method')),
    value         text,
    points        bigint           NOT NULL,
    min_x         double precision NOT NULL,
    min_y         double precision NOT NULL,
    min_z         double precision NOT NULL,
    max_x         double precision NOT NULL,
    max_y         double precision NOT NULL,
    max_z         double precision NOT NULL,
    i             integer[]        NOT NULL,
    j             integer[]        NOT NULL,
    k             integer[]        NOT NULL,
    counts        bigint[]         NOT NULL,
    fps_mean_sum  bigint[]         NOT NULL,
    fps_mean_n    bigint[]         NOT NULL,
    fps_low_1_sum bigint[]         NOT NULL,
    fps_low_1_n   bigint[]         NOT NULL
);

CREATE UNIQUE INDEX dashboard_level_cells_key
    ON dashboard_level_cells (app_id, level_id, grouping, value, day, exp) NULLS NOT DISTINCT;
-- A rebuild replaces an app-day's rows.
CREATE INDEX dashboard_level_cells_app_day_idx ON dashboard_level_cells (app_id, day);

-- level_cells says the app-day's cells are built. Days rolled up before
-- this table existed get theirs at the job's next run (within the job's
-- lookback) without rolling up the rest again; a day rebuilt or removed
-- from dashboard_rollup_days (its levels changed) has its cells rebuilt
-- with it.
ALTER TABLE dashboard_rollup_days ADD COLUMN level_cells boolean NOT NULL DEFAULT false;

-- Which level a trajectory belongs to, computed once (docs/dashboard.md,
-- "A trajectory's level").
--
-- level_id is the level the client sent on the trajectory (an extension of
-- the telemetry Developer API, docs/telemetry.md) or, when it sent none,
-- the level dashboard.Rollup (the worker's dashboard_rollup job) found
-- through the trajectory's session. level_attributed says which: false with
-- a level_id is the client's own, which wins and is never recomputed; false
-- without one is waiting for the job; true is the job's answer (a NULL
-- level_id then means no level was found: the unknown level).
--
-- trajectories is partitioned (migrations/0002_telemetry.sql): a column
-- added to the parent reaches every partition, and a constant default costs
-- no rewrite.
ALTER TABLE trajectories ADD COLUMN level_id text;
ALTER TABLE trajectories ADD COLUMN level_attributed boolean NOT NULL DEFAULT false;

-- dashboard_level_days remembers, per app and UTC day of timestamp_start,
-- what the day's trajectories were last attributed from: the counts of
-- gameplay events plus funnel steps of the day before, the day and the day
-- after, and of the day's trajectories. When they change (late events,
-- new trajectories), the job attributes the day's trajectories again.
CREATE TABLE dashboard_level_days (
    app_id        uuid        NOT NULL,
    day           date        NOT NULL,
    inputs        bigint[]    NOT NULL,
    attributed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, day)
);

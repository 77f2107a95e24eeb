-- A funnel step's input method, computed once (docs/dashboard.md,
-- "Filters"): the telemetry Developer API gives funnel steps none, so
-- dashboard.Rollup (the worker's dashboard_rollup job) sets it to that of
-- the latest gameplay event of the step's session at or before it (within
-- 24 hours), beside the trajectories' levels (migrations/0050). NULL until
-- then, or when there is none.
ALTER TABLE funnel_steps ADD COLUMN input_method text;

-- A player's timeline (GET /dashboard/api/player) reads a player's rows
-- of the range; gameplay events have migrations/0018's session index.
CREATE INDEX funnel_steps_app_id_player_timestamp_idx ON funnel_steps (app_id, player_id, "timestamp");
CREATE INDEX trajectories_app_id_player_timestamp_start_idx ON trajectories (app_id, player_id, timestamp_start);

-- Every app-day is attributed again by the job's next run, which fills the
-- funnel steps' input methods.
DELETE FROM dashboard_level_days;

-- How a level model's space relates to the telemetry's, per model version
-- (docs/dashboard.md, "Levels"): a telemetry point p is drawn at
-- R(up_axis)·(scale·p) + offset in the model's space, R the identity for a
-- y-up telemetry and (x, y, z) → (x, z, −y) for a z-up one. Set through
-- PUT /api/models/{id}/alignment or the dashboard (store.LevelModelSetAlignment).
--
-- The checks refuse what the routes refuse: only finite numbers (in
-- Postgres NaN sorts above 'Infinity', so "< 'Infinity'" leaves it out
-- too), a positive scale, exactly three offsets and no NULL among them.
-- Constant defaults: existing rows need no rewrite.
ALTER TABLE level_models
    ADD COLUMN up_axis text NOT NULL DEFAULT 'y' CHECK (up_axis IN ('y', 'z')),
    ADD COLUMN scale double precision NOT NULL DEFAULT 1 CHECK (scale > 0 AND scale < 'Infinity'),
    ADD COLUMN offset_xyz double precision[] NOT NULL DEFAULT '{0,0,0}' CHECK (
        array_ndims(offset_xyz) = 1 AND cardinality(offset_xyz) = 3
        AND array_position(offset_xyz, NULL) IS NULL
        AND '-Infinity' < ALL (offset_xyz) AND 'Infinity' > ALL (offset_xyz));

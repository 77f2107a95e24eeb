-- Indexes for the dashboard's queries (docs/dashboard.md, "Queries").
--
-- New players per day and retention cohorts read an app's players by
-- first_seen.
CREATE INDEX players_app_id_first_seen_idx ON players (app_id, first_seen);
-- Performance by level finds, for each trajectory, the latest gameplay
-- event of its session that names a level.
CREATE INDEX gameplay_events_app_id_session_timestamp_idx
    ON gameplay_events (app_id, player_id, session_id, "timestamp");

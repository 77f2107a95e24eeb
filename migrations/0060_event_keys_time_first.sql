-- The event tables' primary keys put the client's time before the event
-- id: (app_id, time, event_id) instead of (app_id, event_id, time). The
-- same columns, so the same rows are unique and the sink's dedup is
-- unchanged (docs/telemetry.md, "Dedup, end to end").
--
-- Event ids are random UUIDs, so the old key's index took each new row on
-- a random leaf page: on a table larger than shared_buffers most inserts
-- read a page from disk and, the first time a page changes after a
-- checkpoint, wrote all of it to the WAL. Events arrive roughly in time
-- order, so the new key's inserts land on the few rightmost pages of each
-- app. The (app_id, time) indexes are then prefixes of the key and are
-- dropped: one index fewer to write per row (docs/telemetry.md, "Keys
-- and indexes").
--
-- Rebuilding a key takes each table's lock for as long as its index
-- builds: on a large install, run this migration in a quiet hour.
ALTER TABLE player_events
    DROP CONSTRAINT player_events_pkey,
    ADD PRIMARY KEY (app_id, "timestamp", event_id);
DROP INDEX player_events_app_id_timestamp_idx;

ALTER TABLE funnel_steps
    DROP CONSTRAINT funnel_steps_pkey,
    ADD PRIMARY KEY (app_id, "timestamp", event_id);
DROP INDEX funnel_steps_app_id_timestamp_idx;

ALTER TABLE gameplay_events
    DROP CONSTRAINT gameplay_events_pkey,
    ADD PRIMARY KEY (app_id, "timestamp", event_id);
DROP INDEX gameplay_events_app_id_timestamp_idx;

ALTER TABLE trajectories
    DROP CONSTRAINT trajectories_pkey,
    ADD PRIMARY KEY (app_id, timestamp_start, event_id);
DROP INDEX trajectories_app_id_timestamp_start_idx;

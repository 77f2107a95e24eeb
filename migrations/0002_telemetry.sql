-- Telemetry tables: the typed rows that the sink (internal/sink) writes from
-- the TELEMETRY stream and that analysts query. One table per event kind of
-- telemetry-ingestion-api.txt, plus players (one row per player, kept up to
-- date from Create_Player events) and dead_letters (stream messages the sink
-- could not store).
--
-- Event tables are partitioned by day (UTC) on the client's time column.
-- store.EnsurePartitions creates the day partitions (the sink keeps a window
-- around today); each table's DEFAULT partition takes rows whose day has no
-- partition, so an event with a client clock far off is stored, never
-- refused. When a day partition is later created over rows already in
-- DEFAULT, EnsurePartitions moves them into it.
--
-- The primary key is (app_id, event_id, <time column>). app_id comes first
-- because clients choose their own event_id: one app must never be able to
-- shadow another's events by reusing its ids. Postgres requires the
-- partition key in every unique index of a partitioned table. This is safe
-- because the client time is part of the event's content, from which a
-- derived event_id is computed. A client that reuses one explicit event_id
-- with two different timestamps gets two rows; that is the one case where
-- event_id alone is not unique.
--
-- Text columns that an event may leave out are NULL when absent, never ''.
-- Table names are never schema-qualified: migrations run in the
-- connection's search_path schema.

CREATE TABLE player_events (
    event_id    uuid        NOT NULL,
    app_id      uuid        NOT NULL,
    build_id    text,
    player_id   text        NOT NULL,
    event_name  text        NOT NULL,
    region      text,
    hardware    jsonb,
    "timestamp" timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (app_id, event_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE TABLE player_events_default PARTITION OF player_events DEFAULT;
CREATE INDEX player_events_app_id_timestamp_idx ON player_events (app_id, "timestamp");
-- Backfill exports page through an app's rows by arrival time.
CREATE INDEX player_events_app_id_received_at_idx ON player_events (app_id, received_at);

COMMENT ON TABLE player_events IS
    'Player Identity (Create_Player) events as received, one row per event_id. The players table holds each player''s current identity.';

CREATE TABLE players (
    app_id     uuid        NOT NULL,
    player_id  text        NOT NULL,
    build_id   text,
    region     text,
    hardware   jsonb,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, player_id)
);

CREATE INDEX players_app_id_last_seen_idx ON players (app_id, last_seen);

COMMENT ON TABLE players IS
    'One row per player, upserted from Create_Player events: first_seen/last_seen are the least/greatest event timestamps seen; build_id, region and hardware are the latest non-null values.';

CREATE TABLE funnel_steps (
    event_id         uuid        NOT NULL,
    app_id           uuid        NOT NULL,
    build_id         text,
    player_id        text        NOT NULL,
    session_id       text,
    level_id         text,
    funnel_step_name text        NOT NULL,
    "timestamp"      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL,
    PRIMARY KEY (app_id, event_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE TABLE funnel_steps_default PARTITION OF funnel_steps DEFAULT;
CREATE INDEX funnel_steps_app_id_timestamp_idx ON funnel_steps (app_id, "timestamp");
-- Backfill exports page through an app's rows by arrival time.
CREATE INDEX funnel_steps_app_id_received_at_idx ON funnel_steps (app_id, received_at);
CREATE INDEX funnel_steps_app_id_step_timestamp_idx ON funnel_steps (app_id, funnel_step_name, "timestamp");

COMMENT ON TABLE funnel_steps IS
    'Funnel Step events, one row per event_id, partitioned by day of the client timestamp.';

CREATE TABLE gameplay_events (
    event_id     uuid        NOT NULL,
    app_id       uuid        NOT NULL,
    build_id     text,
    player_id    text        NOT NULL,
    session_id   text,
    level_id     text,
    event_name   text        NOT NULL,
    -- pos_x/pos_y/pos_z are the event's position, NULL when it has none.
    pos_x        double precision,
    pos_y        double precision,
    pos_z        double precision,
    custom_data  jsonb,
    input_method text,
    "timestamp"  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (app_id, event_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE TABLE gameplay_events_default PARTITION OF gameplay_events DEFAULT;
CREATE INDEX gameplay_events_app_id_timestamp_idx ON gameplay_events (app_id, "timestamp");
-- Backfill exports page through an app's rows by arrival time.
CREATE INDEX gameplay_events_app_id_received_at_idx ON gameplay_events (app_id, received_at);
CREATE INDEX gameplay_events_app_id_name_timestamp_idx ON gameplay_events (app_id, event_name, "timestamp");

COMMENT ON TABLE gameplay_events IS
    'Gameplay events, one row per event_id, partitioned by day of the client timestamp.';

CREATE TABLE trajectories (
    event_id        uuid               NOT NULL,
    app_id          uuid               NOT NULL,
    build_id        text,
    player_id       text               NOT NULL,
    session_id      text,
    status          text,
    input_method    text,
    fps_mean        double precision,
    fps_low_5       double precision,
    fps_low_1       double precision,
    -- positions is the flat [x,y,z,x,y,z,...] array as sent; num_points is
    -- its length / 3.
    positions       double precision[] NOT NULL,
    num_points      integer            NOT NULL,
    timestamp_start timestamptz        NOT NULL,
    timestamp_end   timestamptz,
    received_at     timestamptz        NOT NULL,
    PRIMARY KEY (app_id, event_id, timestamp_start)
) PARTITION BY RANGE (timestamp_start);

CREATE TABLE trajectories_default PARTITION OF trajectories DEFAULT;
CREATE INDEX trajectories_app_id_timestamp_start_idx ON trajectories (app_id, timestamp_start);
-- Backfill exports page through an app's rows by arrival time.
CREATE INDEX trajectories_app_id_received_at_idx ON trajectories (app_id, received_at);

COMMENT ON TABLE trajectories IS
    'Realtime Trajectory events, one row per event_id, partitioned by day of timestamp_start.';

CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    -- stream_seq is the message's TELEMETRY stream sequence; it makes a
    -- redelivered poison message one row.
    stream_seq  bigint      NOT NULL UNIQUE,
    subject     text        NOT NULL,
    data        bytea       NOT NULL,
    reason      text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dead_letters_received_at_idx ON dead_letters (received_at);

COMMENT ON TABLE dead_letters IS
    'TELEMETRY messages the sink could not store (undecodable, subject not matching the event, or refused by Postgres), kept with their raw bytes and the reason, then acknowledged so they never block the stream.';

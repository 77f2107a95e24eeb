-- Telemetry events the api refused once it knew the request's app
-- (docs/dashboard.md, "Rejected events"), per app, UTC day and reason (the
-- error code the client was sent, as in the gamepipe_events_rejected_total
-- metric). Each api process counts in memory and adds its counts every few
-- seconds with INSERT ... ON CONFLICT DO UPDATE SET events = events + ..., so
-- any number of copies add up. A row is small and an app has at most a few
-- dozen reasons a day; rows go with their app.
CREATE TABLE ingest_rejections (
    app_id uuid   NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    day    date   NOT NULL,
    reason text   NOT NULL CHECK (reason <> '' AND length(reason) <= 64),
    events bigint NOT NULL CHECK (events > 0),
    PRIMARY KEY (app_id, day, reason)
);

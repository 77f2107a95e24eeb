-- A player's latest earlier day in dashboard_daily_sessions, for the
-- 'players' firsts (dashboard.refreshFirsts, docs/dashboard.md, "Rollups",
-- distinct counts over days): the item has no key besides the player, so the
-- item index of migrations/0052_dashboard_firsts.sql (player, session, day)
-- cannot give the days in order, and the planner took the table's key
-- (app, day, player, ...) backwards instead, reading every row of the 90
-- days before for each player of the day: a day's rollup grew with the
-- days before it (about 100 s per day of the dashboard benchmark after ten
-- days). This one reads one entry per grouping.
CREATE INDEX dashboard_daily_sessions_player_day_idx
    ON dashboard_daily_sessions (app_id, player_id, day) INCLUDE (build_id, region);

-- A generation's row is rewritten at every step (queued → submitting →
-- awaiting → finalizing → succeeded, plus progress and the image). With
-- status in an index, each step was a non-HOT update: a new entry in every
-- index of the table and several times the WAL. Without it, and with room
-- left on each page (fillfactor), the updates are HOT: the tuple is rewritten
-- in place and no index is touched. Measured by `make bench`'s webhook
-- callbacks row (bench/README.md, finding 12).
--
-- The list's status filter reads generations_app_created_idx (newest first
-- per app) and filters; a page of a rare status scans more of it.
DROP INDEX IF EXISTS generations_app_status_created_idx;
ALTER TABLE generations SET (fillfactor = 70);

-- One status vocabulary for every job kind (docs/jobs.md): an emote ends in
-- succeeded (was completed) and, past its deadline, in timed_out (was failed
-- with error_code deadline_exceeded); a generation whose upstream works is
-- processing (was running); both spell canceled with one l. Existing rows
-- move to the new words in the same transaction as the new checks.
--
-- generations.status stays out of every index (0007_generations_hot_updates.sql),
-- so these updates are HOT where the page has room; emotes.status is in
-- emotes_app_status_created_idx, which the rewritten rows update once.
ALTER TABLE emotes DROP CONSTRAINT emotes_status_check;
UPDATE emotes SET status = 'succeeded' WHERE status = 'completed';
UPDATE emotes SET status = 'canceled' WHERE status = 'cancelled';
UPDATE emotes SET status = 'timed_out', error_code = 'timed_out'
    WHERE status = 'failed' AND error_code = 'deadline_exceeded';
UPDATE emotes SET error_code = 'canceled', error_message = 'canceled at the app''s request'
    WHERE status = 'canceled' AND error_code IS NULL;
ALTER TABLE emotes ADD CONSTRAINT emotes_status_check CHECK (status IN ('queued', 'processing',
    'awaiting_validation', 'validating', 'retaking', 'awaiting_video',
    'succeeded', 'failed', 'canceled', 'timed_out'));

ALTER TABLE generations DROP CONSTRAINT generations_status_check;
UPDATE generations SET status = 'processing' WHERE status = 'running';
UPDATE generations SET status = 'canceled',
        error_code = CASE WHEN error_code = 'cancelled' THEN 'canceled' ELSE error_code END,
        error_message = CASE WHEN error_code = 'cancelled' THEN 'canceled at the app''s request' ELSE error_message END
    WHERE status = 'cancelled';
ALTER TABLE generations ADD CONSTRAINT generations_status_check CHECK (status IN ('queued', 'submitting',
    'submitted', 'processing', 'finalizing', 'succeeded', 'failed', 'canceled', 'timed_out'));

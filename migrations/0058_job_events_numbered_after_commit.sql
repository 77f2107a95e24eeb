-- An app's job events are numbered for GET /v1/events after they commit,
-- not while their transaction runs (docs/webhooks.md, "The event stream").
-- A status change inserts its event with seq NULL and takes no app-wide
-- lock, so the changes of one app commit side by side. Whoever reads the
-- stream (store.JobEventsNumber) numbers the committed events that have no
-- number yet, in insert_seq order, under a per-app advisory lock held to
-- its commit, from the app's counter in job_event_seqs: numbers are handed
-- out in commit order, so a reader that resumes after one never skips an
-- event that commits later. insert_seq (a plain sequence) keeps the order
-- the events were written in, which is a job's own order.
ALTER TABLE job_events ADD COLUMN insert_seq bigint GENERATED ALWAYS AS IDENTITY;

ALTER TABLE job_events DROP CONSTRAINT job_events_pkey, DROP CONSTRAINT job_events_id_key, ADD PRIMARY KEY (id);
ALTER TABLE job_events ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE job_events ADD CONSTRAINT job_events_app_seq_key UNIQUE (app_id, seq);
CREATE INDEX job_events_unnumbered_idx ON job_events (app_id, insert_seq) WHERE seq IS NULL;

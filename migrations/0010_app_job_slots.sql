-- Each app's share of the job queues (docs/app-share.md). A job run
-- of an app takes a slot here before it works, and gives it back when it
-- returns; an app with as many live slots on a queue as its cap snoozes its
-- job instead, which holds no worker. The cap holds across every worker
-- process because the slots live here. A slot is live while its River job
-- is running the same attempt: a worker that died leaves a slot that frees
-- itself once River rescues the job.
CREATE TABLE app_job_slots (
    job_id   bigint      PRIMARY KEY,
    attempt  integer     NOT NULL,
    app_id   uuid        NOT NULL,
    queue    text        NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_job_slots_app_queue_idx ON app_job_slots (app_id, queue);

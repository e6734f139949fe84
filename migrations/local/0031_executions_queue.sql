-- Workflow speed (issue 32): the runner's claim asks for the oldest queued runs of this
-- device, at most as many as it has free slots. Through executions_by_status alone it read
-- every queued run (each row whole, with two lookups in workflow_runs for a step), sorted
-- them all and kept the first few: 20 runs of a 100-wide fan-out queue 2,000 steps, and each
-- step's end paid for reading them all (a quarter of that bench's CPU). This index holds the
-- queue in claim order for each device: the claim walks it and stops at its LIMIT, and the
-- columns it filters on are in the index, so a run it passes over costs no read of the table.
CREATE INDEX executions_queue ON executions (device_id, queued_at, id, workflow_run_id, not_before)
    WHERE status = 'queued';
-- The runner's next wake-up: the earliest `not_before` among this device's queued runs (only
-- retries waiting out a backoff and runs queued for later have one).
CREATE INDEX executions_queued_later ON executions (device_id, not_before)
    WHERE status = 'queued' AND not_before IS NOT NULL;

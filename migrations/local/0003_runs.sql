-- Runs, schedules and recovery. New columns on CRRs go between crsql_begin_alter and
-- crsql_commit_alter so cr-sqlite rebuilds its triggers and clock tables for them.

SELECT crsql_begin_alter('executions');
-- Set by whoever asks for a cancel (any device); the device running it acts on it.
ALTER TABLE executions ADD COLUMN cancel_requested_at INTEGER;
-- JSON RetryPolicy copied from the task or schedule when the run was queued.
ALTER TABLE executions ADD COLUMN retry_policy TEXT NOT NULL DEFAULT '{}';
-- A queued run (a retry, say) does not start before this time.
ALTER TABLE executions ADD COLUMN not_before INTEGER;
SELECT crsql_commit_alter('executions');

SELECT crsql_begin_alter('tasks');
-- JSON RetryPolicy for runs of this task ('{}' means the defaults).
ALTER TABLE tasks ADD COLUMN retry_policy TEXT NOT NULL DEFAULT '{}';
SELECT crsql_commit_alter('tasks');

CREATE INDEX executions_by_schedule ON executions (schedule_id, status);
CREATE INDEX error_records_by_execution ON error_records (execution_id);

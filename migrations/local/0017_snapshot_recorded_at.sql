-- When each boundary was recorded (issue 33, time travel): the instant its checkpoint came
-- into force. `started_at`/`finished_at` are the step's (or attempt's) own times.
SELECT crsql_begin_alter('execution_snapshots');
ALTER TABLE execution_snapshots ADD COLUMN recorded_at INTEGER;
SELECT crsql_commit_alter('execution_snapshots');

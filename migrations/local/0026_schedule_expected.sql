-- Slow-run alerts (issue 16, item 4): how long a schedule's run should take; past it, an
-- alert (before the task's own expected duration and before any history).
SELECT crsql_begin_alter('schedules');
ALTER TABLE schedules ADD COLUMN expected_secs INTEGER;
SELECT crsql_commit_alter('schedules');

-- Slow-run alerts (issue 16, item 4): how long a task's run should take; past it, an alert.
SELECT crsql_begin_alter('tasks');
ALTER TABLE tasks ADD COLUMN expected_secs INTEGER;
SELECT crsql_commit_alter('tasks');

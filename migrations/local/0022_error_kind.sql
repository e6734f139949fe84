-- Slow-run alerts (issue 16, item 4): an error record is a failure's (recovery acts on it) or
-- a slow run's (a person is told; cleared when the run ends).
SELECT crsql_begin_alter('error_records');
ALTER TABLE error_records ADD COLUMN kind TEXT NOT NULL DEFAULT 'failure';
SELECT crsql_commit_alter('error_records');

-- A fresh id each time a run's step rows change (issue 32, speed): a process that has those
-- rows parsed already (the engine, at the run's next boundary) reuses them while the id it
-- saved them under is still the run's, instead of reading and parsing every step again.
SELECT crsql_begin_alter('workflow_runs');
ALTER TABLE workflow_runs ADD COLUMN steps_rev TEXT;
SELECT crsql_commit_alter('workflow_runs');

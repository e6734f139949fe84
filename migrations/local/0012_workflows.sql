-- Workflows (issue 15). The definitions' rows stay immutable per (id, version); `removed_at`
-- is the one column written after insert (`workflow rm`; applying again brings it back).
SELECT crsql_begin_alter('workflows');
ALTER TABLE workflows ADD COLUMN removed_at INTEGER;
SELECT crsql_commit_alter('workflows');
CREATE INDEX workflows_by_name ON workflows (name, version);

-- A run: written by its runner device only, except `control`, which any device may set
-- (pause, resume, cancel) and the runner acts on.
SELECT crsql_begin_alter('workflow_runs');
ALTER TABLE workflow_runs ADD COLUMN workflow_name TEXT NOT NULL DEFAULT '';
ALTER TABLE workflow_runs ADD COLUMN device_id TEXT;
ALTER TABLE workflow_runs ADD COLUMN environment_id TEXT;
ALTER TABLE workflow_runs ADD COLUMN control TEXT NOT NULL DEFAULT 'run';
ALTER TABLE workflow_runs ADD COLUMN parent_execution_id TEXT;
ALTER TABLE workflow_runs ADD COLUMN rerun_of TEXT;
ALTER TABLE workflow_runs ADD COLUMN rerun_from TEXT;
ALTER TABLE workflow_runs ADD COLUMN error TEXT;
ALTER TABLE workflow_runs ADD COLUMN queued_at INTEGER NOT NULL DEFAULT 0;
SELECT crsql_commit_alter('workflow_runs');
CREATE INDEX workflow_runs_by_status ON workflow_runs (status, device_id);
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, queued_at);

-- Each step attempt is an ordinary run that names its step.
SELECT crsql_begin_alter('executions');
ALTER TABLE executions ADD COLUMN step_id TEXT;
SELECT crsql_commit_alter('executions');
CREATE INDEX executions_by_workflow_run ON executions (workflow_run_id, step_id);
-- A step's next attempt is found from the one it retries.
CREATE INDEX executions_by_retry_of ON executions (retry_of);

-- Snapshots name the step of their boundary.
SELECT crsql_begin_alter('execution_snapshots');
ALTER TABLE execution_snapshots ADD COLUMN step_id TEXT;
SELECT crsql_commit_alter('execution_snapshots');

-- A person's answer to an approval step, from any device; the runner device reads it.
CREATE TABLE workflow_approvals (
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    decision TEXT NOT NULL DEFAULT '',
    comment TEXT,
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step_id)
);
SELECT crsql_as_crr('workflow_approvals');

-- Workflow speed (issue 32): a chain step's end wrote its history (its status events, audit
-- rows and the workflow's two boundary snapshots) into cr-sqlite tables in the write that
-- ends it and starts the next step: seven rows with 46 clock rows, a quarter of a step's CPU
-- (release, 1,000-step chain of `true`: 3.26 ms a step with them, 2.44 ms without). These
-- plain, local tables take those rows in that write instead (a plain insert costs about a
-- tenth of a cr-sqlite one), and the store's next write moves them into the synced tables
-- (store/staged.rs), which in a chain is the process record written while the next step's
-- command runs. Readers read both; a crash between the two writes leaves them here, and the
-- next write moves them. Not synced, never exported: only ever rows on their way.
CREATE TABLE staged_execution_events (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE staged_execution_snapshots (
    id TEXT PRIMARY KEY NOT NULL,
    execution_id TEXT,
    workflow_run_id TEXT,
    step_index INTEGER NOT NULL,
    label TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    step_id TEXT,
    recorded_at INTEGER
);

CREATE TABLE staged_audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action TEXT NOT NULL,
    changes TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at INTEGER NOT NULL
);

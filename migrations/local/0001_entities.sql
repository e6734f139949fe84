-- Synced entities, each a cr-sqlite CRR. cr-sqlite's rules apply to every table here:
-- NOT NULL primary keys (UUIDv7 text), no UNIQUE index beyond the primary key, no FOREIGN
-- KEYs (references are checked in code and may dangle after a merge), a DEFAULT on every
-- NOT NULL column, and primary keys that are never updated. Times are Unix milliseconds.
-- Later migrations change these tables only between crsql_begin_alter/crsql_commit_alter.

CREATE TABLE environments (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    repository TEXT,
    working_dir TEXT,
    env_vars TEXT NOT NULL DEFAULT '{}',      -- JSON object of plain variables
    secret_vars TEXT NOT NULL DEFAULT '[]',   -- JSON array of names; values live in the OS keyring
    setup_script TEXT,
    agent_command TEXT,
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
SELECT crsql_as_crr('environments');

CREATE TABLE tasks (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'todo',
    priority INTEGER NOT NULL DEFAULT 1,      -- 0 low .. 3 urgent
    environment_id TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_status ON tasks (status);
CREATE INDEX tasks_by_environment ON tasks (environment_id);
SELECT crsql_as_crr('tasks');

CREATE TABLE executions (
    id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT,
    environment_id TEXT,
    schedule_id TEXT,
    workflow_run_id TEXT,
    retry_of TEXT,                            -- the execution this one retries
    executor TEXT NOT NULL DEFAULT 'shell',   -- shell | http | agent_thread
    spec TEXT NOT NULL DEFAULT '{}',          -- JSON: what to run
    status TEXT NOT NULL DEFAULT 'queued',
    attempt INTEGER NOT NULL DEFAULT 1,
    device_id TEXT,                           -- site id of the device that runs it
    exit_code INTEGER,
    result TEXT,                              -- JSON
    error TEXT,
    queued_at INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER,
    finished_at INTEGER
);
CREATE INDEX executions_by_task ON executions (task_id);
CREATE INDEX executions_by_status ON executions (status);
SELECT crsql_as_crr('executions');

-- The observability timeline. Deliberately narrow: cr-sqlite costs about 6 us per non-key
-- column on insert, and events must append at 20,000/s or more. Only the device running an
-- execution appends its events, so (execution_id, seq) never collides across devices.
CREATE TABLE execution_events (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT '',            -- stdout | stderr | status | http | ...
    data TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (execution_id, seq)
);
SELECT crsql_as_crr('execution_events');

CREATE TABLE execution_snapshots (
    id TEXT PRIMARY KEY NOT NULL,
    execution_id TEXT,
    workflow_run_id TEXT,
    step_index INTEGER NOT NULL DEFAULT 0,
    label TEXT NOT NULL DEFAULT '',
    inputs TEXT NOT NULL DEFAULT '{}',
    outputs TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT '{}',
    started_at INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER
);
CREATE INDEX execution_snapshots_by_run ON execution_snapshots (workflow_run_id, step_index);
SELECT crsql_as_crr('execution_snapshots');

CREATE TABLE schedules (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    task_id TEXT,
    kind TEXT NOT NULL DEFAULT 'cron',        -- cron | interval | once
    cron_expr TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    interval_secs INTEGER,
    run_at INTEGER,
    executor TEXT NOT NULL DEFAULT 'shell',
    spec TEXT NOT NULL DEFAULT '{}',
    misfire_policy TEXT NOT NULL DEFAULT 'run_once',
    misfire_cap INTEGER NOT NULL DEFAULT 10,
    overlap_policy TEXT NOT NULL DEFAULT 'skip',
    retry_policy TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL DEFAULT 1,
    runner_device_id TEXT,
    last_fired_at INTEGER,
    next_fire_at INTEGER,
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
SELECT crsql_as_crr('schedules');

CREATE TABLE error_records (
    id TEXT PRIMARY KEY NOT NULL,
    execution_id TEXT,
    task_id TEXT,
    schedule_id TEXT,
    severity TEXT NOT NULL DEFAULT 'medium',  -- low | medium | high | critical
    message TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    recovery_status TEXT NOT NULL DEFAULT 'new',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 0,
    next_retry_at INTEGER,
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX error_records_by_status ON error_records (recovery_status);
SELECT crsql_as_crr('error_records');

-- A workflow definition is immutable per version: editing makes a new (id, version) row.
CREATE TABLE workflows (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (id, version)
);
SELECT crsql_as_crr('workflows');

CREATE TABLE workflow_runs (
    id TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT,
    workflow_version INTEGER NOT NULL DEFAULT 1,
    task_id TEXT,
    status TEXT NOT NULL DEFAULT 'queued',
    current_step INTEGER NOT NULL DEFAULT 0,
    checkpoint TEXT NOT NULL DEFAULT '{}',
    started_at INTEGER,
    finished_at INTEGER,
    updated_at INTEGER NOT NULL DEFAULT 0
);
SELECT crsql_as_crr('workflow_runs');

CREATE TABLE memories (
    id TEXT PRIMARY KEY NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'note',
    scope_kind TEXT NOT NULL DEFAULT 'global',  -- global | environment | task
    scope_id TEXT,
    importance REAL NOT NULL DEFAULT 0.5,
    source_execution_id TEXT,
    access_count INTEGER NOT NULL DEFAULT 0,
    last_accessed_at INTEGER,
    archived INTEGER NOT NULL DEFAULT 0,
    summary_id TEXT,                          -- the summary memory that archived this one
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
SELECT crsql_as_crr('memories');

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    entity TEXT NOT NULL DEFAULT '',          -- task | environment | ...
    entity_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT '',
    changes TEXT NOT NULL DEFAULT '{}',       -- JSON: field -> {old, new}
    device_id TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX audit_log_by_entity ON audit_log (entity_id, at);
SELECT crsql_as_crr('audit_log');

-- Insights (issue 16): each ended day's figures per grouping, kept so that a 30-day dashboard
-- reads a few thousand rows instead of a million runs (see crates/core/src/store/insights.rs).
-- A cache, not data: this device's own table (not a CRR, never synced), filled by the read
-- that first needs a day and emptied for a day by the triggers below whenever a run of that
-- day is written, here or by a merge from another device (cr-sqlite writes merged rows into
-- the tables themselves, so these triggers fire for them too).
CREATE TABLE insights_days (
    day INTEGER NOT NULL,          -- the UTC day of the runs' queued_at (ms / 86,400,000)
    grouping TEXT NOT NULL,        -- task, env, executor, schedule, workflow, step
    key TEXT NOT NULL,             -- the group's key; '' for the runs without one (a row that
                                   -- every filled day has, with no runs when there are none)
    counts TEXT NOT NULL,          -- runs per status, a JSON object
    durations BLOB NOT NULL,       -- each ended run's duration in ms, 8-byte little-endian
    queued BLOB NOT NULL,          -- each started run's time in the queue in ms, the same way
    retries INTEGER NOT NULL,
    first_attempts INTEGER NOT NULL,
    PRIMARY KEY (day, grouping, key)
) WITHOUT ROWID;

CREATE TRIGGER insights_days_run_added AFTER INSERT ON executions BEGIN
    DELETE FROM insights_days WHERE day = new.queued_at / 86400000;
END;
CREATE TRIGGER insights_days_run_changed AFTER UPDATE OF
    queued_at, status, started_at, finished_at, attempt, task_id, environment_id, executor,
    schedule_id, step_id, workflow_run_id ON executions BEGIN
    DELETE FROM insights_days WHERE day IN (old.queued_at / 86400000, new.queued_at / 86400000);
END;
CREATE TRIGGER insights_days_run_removed AFTER DELETE ON executions BEGIN
    DELETE FROM insights_days WHERE day = old.queued_at / 86400000;
END;

CREATE TRIGGER insights_days_workflow_run_added AFTER INSERT ON workflow_runs BEGIN
    DELETE FROM insights_days WHERE day = new.queued_at / 86400000;
END;
CREATE TRIGGER insights_days_workflow_run_changed AFTER UPDATE OF
    queued_at, workflow_name, status, started_at, finished_at ON workflow_runs BEGIN
    DELETE FROM insights_days WHERE day IN (old.queued_at / 86400000, new.queued_at / 86400000);
END;
CREATE TRIGGER insights_days_workflow_run_removed AFTER DELETE ON workflow_runs BEGIN
    DELETE FROM insights_days WHERE day = old.queued_at / 86400000;
END;

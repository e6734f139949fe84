//! The rows insights are computed from: one per run queued in a window, with the key and
//! label of the group it falls in. The window is read through an index on `queued_at`
//! (migration 0021), so a month's figures read that month's runs and nothing older.

use flightdeck_types::{InsightsGroup, Timestamp};
use rusqlite::{params, Connection};

use crate::error::Result;

/// A run as the figures need it.
#[derive(Debug, Clone)]
pub struct RunFact {
    pub key: Option<String>,
    pub label: Option<String>,
    pub status: String,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempt: u32,
}

/// A step's id without a fan-out item's `[INDEX]`.
const STEP_BASE: &str = "CASE WHEN instr(e.step_id, '[') > 0 \
     THEN substr(e.step_id, 1, instr(e.step_id, '[') - 1) ELSE e.step_id END";

/// Every run queued in `[since, until)`, keyed by `by`.
pub fn run_facts(
    conn: &Connection,
    by: InsightsGroup,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<RunFact>> {
    let runs = "e.status, e.queued_at, e.started_at, e.finished_at, e.attempt FROM executions e";
    let window = "e.queued_at >= ?1 AND e.queued_at < ?2";
    let sql = match by {
        InsightsGroup::Task => format!(
            "SELECT e.task_id, t.title, {runs} LEFT JOIN tasks t ON t.id = e.task_id \
             WHERE {window}"
        ),
        InsightsGroup::Env => format!(
            "SELECT e.environment_id, v.name, {runs} \
             LEFT JOIN environments v ON v.id = e.environment_id WHERE {window}"
        ),
        InsightsGroup::Executor => format!("SELECT e.executor, NULL, {runs} WHERE {window}"),
        InsightsGroup::Schedule => format!(
            "SELECT e.schedule_id, s.name, {runs} LEFT JOIN schedules s ON s.id = e.schedule_id \
             WHERE {window}"
        ),
        InsightsGroup::Step => format!(
            "SELECT w.workflow_name || '/' || {STEP_BASE}, NULL, {runs} \
             JOIN workflow_runs w ON w.id = e.workflow_run_id \
             WHERE {window} AND e.step_id IS NOT NULL"
        ),
        InsightsGroup::Workflow => "SELECT e.workflow_name, NULL, e.status, e.queued_at, \
             e.started_at, e.finished_at, 1 FROM workflow_runs e \
             WHERE e.queued_at >= ?1 AND e.queued_at < ?2"
            .to_string(),
    };
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![since.as_millis(), until.as_millis()], |r| {
        Ok(RunFact {
            key: r.get(0)?,
            label: r.get(1)?,
            status: r.get(2)?,
            queued_at: r.get(3)?,
            started_at: r.get(4)?,
            finished_at: r.get(5)?,
            attempt: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A failed run of the window (failed, timed out or interrupted): id, message, when.
pub fn failed_runs(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT id, coalesce(error, ''), coalesce(finished_at, queued_at) FROM executions
         WHERE queued_at >= ?1 AND queued_at < ?2
           AND status IN ('failed', 'timed_out', 'interrupted')",
    )?;
    let rows = stmt.query_map(params![since.as_millis(), until.as_millis()], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A step run of a succeeded workflow run queued in the window: the workflow's name, the
/// run's id, start and end, the step (without a fan-out item's index), its run's start and end.
pub type StepSegment = (String, String, i64, i64, String, i64, i64);

/// Every step run that started and ended, of the workflow runs queued in `[since, until)` that
/// succeeded (of `workflow` only, when given); a run's segments together.
pub fn step_segments(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
    workflow: Option<&str>,
) -> Result<Vec<StepSegment>> {
    let sql = format!(
        "SELECT w.workflow_name, w.id, w.started_at, w.finished_at, {STEP_BASE},
                e.started_at, e.finished_at
         FROM workflow_runs w JOIN executions e ON e.workflow_run_id = w.id
         WHERE w.queued_at >= ?1 AND w.queued_at < ?2 AND w.status = 'succeeded'
           AND (?3 IS NULL OR w.workflow_name = ?3)
           AND w.started_at IS NOT NULL AND w.finished_at IS NOT NULL
           AND e.step_id IS NOT NULL AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL
         ORDER BY w.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![since.as_millis(), until.as_millis(), workflow],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How long the latest (at most `limit`) succeeded runs of task `task_id` took, in ms: plain
/// runs only (a step's runs are judged with their step's). `except`: the run being judged.
pub fn task_history(
    conn: &Connection,
    task_id: &str,
    except: &str,
    limit: usize,
) -> Result<Vec<i64>> {
    // Newest first by rowid: the task index holds rowids in order, so no sort of the history.
    let mut stmt = conn.prepare_cached(
        "SELECT finished_at - started_at FROM executions
         WHERE task_id = ?1 AND id != ?2 AND status = 'succeeded' AND workflow_run_id IS NULL
           AND started_at IS NOT NULL AND finished_at IS NOT NULL
         ORDER BY rowid DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![task_id, except, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How long step `step` (its items too) took in the latest (at most `limit`) runs of
/// workflow `workflow_id` where it succeeded, in ms; `except`: the run being judged.
pub fn step_history(
    conn: &Connection,
    workflow_id: &str,
    step: &str,
    except: &str,
    limit: usize,
) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.finished_at - e.started_at FROM workflow_runs w
         JOIN executions e ON e.workflow_run_id = w.id
          AND (e.step_id = ?2 OR e.step_id LIKE ?2 || '[%')
         WHERE w.workflow_id = ?1 AND e.id != ?3 AND e.status = 'succeeded'
           AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL
         ORDER BY w.queued_at DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![workflow_id, step, except, limit as i64], |r| {
        r.get(0)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The last `n` output lines (stdout and stderr) a run recorded, oldest first.
pub fn last_lines(conn: &Connection, execution_id: &str, n: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM execution_events
         WHERE execution_id = ?1 AND kind IN ('stdout', 'stderr')
         ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![execution_id, n as i64], |r| r.get(0))?;
    let mut lines: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
    lines.reverse();
    Ok(lines)
}

//! SQL for runs: `executions` rows and their `execution_events` timeline.

use flightdeck_types::{
    Execution, ExecutionEvent, ExecutionFilter, ExecutionSpec, ExecutionStatus, RetryPolicy,
    Timestamp,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Writer;
use crate::error::{CoreError, Result};

const COLUMNS: &str = "id, task_id, environment_id, schedule_id, workflow_run_id, retry_of, \
     spec, status, attempt, device_id, exit_code, result, error, retry_policy, queued_at, \
     not_before, started_at, finished_at, cancel_requested_at, step_id, forked_from";

fn json_err(i: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Execution> {
    let spec: String = row.get(6)?;
    let status: String = row.get(7)?;
    let result: Option<String> = row.get(11)?;
    let policy: String = row.get(13)?;
    let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    Ok(Execution {
        id: row.get(0)?,
        task_id: row.get(1)?,
        environment_id: row.get(2)?,
        schedule_id: row.get(3)?,
        workflow_run_id: row.get(4)?,
        retry_of: row.get(5)?,
        spec: serde_json::from_str::<ExecutionSpec>(&spec).map_err(|e| json_err(6, e))?,
        // A status this build does not know came from a newer peer; treat it as final.
        status: status.parse().unwrap_or(ExecutionStatus::Failed),
        attempt: row.get(8)?,
        device_id: row.get(9)?,
        exit_code: row.get(10)?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| json_err(11, e))?,
        error: row.get(12)?,
        retry_policy: serde_json::from_str::<RetryPolicy>(&policy).unwrap_or_default(),
        queued_at: Timestamp(row.get(14)?),
        not_before: ts(15)?,
        started_at: ts(16)?,
        finished_at: ts(17)?,
        cancel_requested_at: ts(18)?,
        step_id: row.get(19)?,
        forked_from: row.get(20)?,
    })
}

pub fn insert(conn: &Connection, e: &Execution) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO executions (id, task_id, environment_id, schedule_id, workflow_run_id,
             retry_of, executor, spec, status, attempt, device_id, retry_policy, queued_at,
             not_before, step_id, forked_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        e.id,
        e.task_id,
        e.environment_id,
        e.schedule_id,
        e.workflow_run_id,
        e.retry_of,
        e.spec.kind().as_str(),
        serde_json::to_string(&e.spec).expect("specs always serialize"),
        e.status.as_str(),
        e.attempt,
        e.device_id,
        serde_json::to_string(&e.retry_policy).expect("policies always serialize"),
        e.queued_at.as_millis(),
        e.not_before.map(Timestamp::as_millis),
        e.step_id,
        e.forked_from,
    ])?;
    Ok(())
}

/// The runs forked from run `id` (`flightdeck fork`), oldest first.
pub fn forks_of(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM executions WHERE forked_from = ?1 ORDER BY queued_at, id",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn find(conn: &Connection, id: &str) -> Result<Execution> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM executions WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| CoreError::NotFound {
            kind: "run",
            key: id.to_string(),
        })
}

/// Run `id`'s status alone: what the workflow engine asks of each running step at a
/// boundary, where reading the whole row (its spec and result parsed) for every step of a
/// wide fan-out cost more than the boundary's own work.
pub fn status(conn: &Connection, id: &str) -> Result<ExecutionStatus> {
    let status: String = conn
        .prepare_cached("SELECT status FROM executions WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| CoreError::NotFound {
            kind: "run",
            key: id.to_string(),
        })?;
    // As `from_row` reads it: a status this build does not know came from a newer peer.
    Ok(status.parse().unwrap_or(ExecutionStatus::Failed))
}

pub fn list(conn: &Connection, filter: &ExecutionFilter) -> Result<Vec<Execution>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM executions
         WHERE (?1 IS NULL OR task_id = ?1) AND (?2 IS NULL OR schedule_id = ?2)
           AND (?3 IS NULL OR status = ?3) AND (?5 IS NULL OR workflow_run_id = ?5)
           AND (?6 IS NULL OR environment_id = ?6)
           AND (?7 IS NULL OR json_extract(spec, '$.executor') = ?7)
         ORDER BY queued_at DESC, id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.task_id,
            filter.schedule_id,
            filter.status.map(ExecutionStatus::as_str),
            filter.limit.unwrap_or(100),
            filter.workflow_run_id,
            filter.environment_id,
            filter.executor.map(|e| e.as_str()),
        ],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Runs whose worktree is on `device_id` (see `runs::worktree`), oldest first. A scan of the
/// runs table: it serves the worktree list and the clean-up, a few times a day at most, where
/// an index on a JSON path would cost every run's write.
pub fn with_worktree_on(conn: &Connection, device_id: &str) -> Result<Vec<Execution>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM executions
         WHERE json_valid(result) AND json_extract(result, '$.worktree.device_id') = ?1
         ORDER BY queued_at, id"
    ))?;
    let rows = stmt.query_map([device_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Live (queued or running) runs on `device_id`, oldest first.
pub fn live_on_device(conn: &Connection, device_id: &str) -> Result<Vec<Execution>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM executions
         WHERE status IN ('queued', 'running') AND device_id = ?1
         ORDER BY queued_at, id"
    ))?;
    let rows = stmt.query_map([device_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn request_cancel(conn: &Connection, id: &str, at: Timestamp) -> Result<()> {
    conn.execute(
        "UPDATE executions SET cancel_requested_at = ?2
         WHERE id = ?1 AND cancel_requested_at IS NULL",
        params![id, at.as_millis()],
    )?;
    Ok(())
}

/// The next free event number of a run (events of one run are written by one device only).
/// Staged events (`store/staged.rs`) count.
pub fn next_event_seq(conn: &Connection, execution_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(max(seq), 0) + 1 FROM (
                 SELECT max(seq) AS seq FROM execution_events WHERE execution_id = ?1
                 UNION ALL
                 SELECT max(seq) FROM staged_execution_events WHERE execution_id = ?1)",
        )?
        .query_row([execution_id], |r| r.get(0))?)
}

/// Appends an event, to the staging table when the write stages its history.
pub fn insert_event(w: &Writer<'_>, event: &ExecutionEvent) -> Result<()> {
    w.prepare_cached(&super::staged::insert_sql("execution_events", w.staging()))?
        .execute(params![
            event.execution_id,
            event.seq,
            event.at.as_millis(),
            event.kind,
            event.data
        ])?;
    Ok(())
}

/// Events of a run after `after_seq`, in order, at most `limit`.
pub fn events(
    conn: &Connection,
    execution_id: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<ExecutionEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT execution_id, seq, at, kind, data FROM execution_events
         WHERE execution_id = ?1 AND seq > ?2
         UNION ALL
         SELECT execution_id, seq, at, kind, data FROM staged_execution_events
         WHERE execution_id = ?1 AND seq > ?2
         ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![execution_id, after_seq, limit], |r| {
        Ok(ExecutionEvent {
            execution_id: r.get(0)?,
            seq: r.get(1)?,
            at: Timestamp(r.get(2)?),
            kind: r.get(3)?,
            data: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The filter and order of [`claimable`]'s two reads, after `SELECT {COLUMNS} FROM executions`:
/// plain runs, then workflow steps. Both walk `executions_queue` (migration 0031) in claim
/// order and stop at their LIMIT; a plan that read every queued run and sorted them is what
/// made each step's end slow behind a long queue (the test below checks the plan).
const CLAIM_PLAIN: &str = "WHERE status = 'queued' AND device_id = ?1
       AND (not_before IS NULL OR not_before <= ?2) AND workflow_run_id IS NULL
     ORDER BY queued_at, id LIMIT ?3";
const CLAIM_STEPS: &str = "WHERE status = 'queued' AND device_id = ?1
       AND (not_before IS NULL OR not_before <= ?2) AND workflow_run_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM workflow_runs r
                       WHERE r.id = executions.workflow_run_id AND r.control = 'pause')
       AND EXISTS (SELECT 1 FROM workflow_runs r
                   WHERE r.id = executions.workflow_run_id AND r.device_id = ?1)
     ORDER BY queued_at, id LIMIT ?3";

/// Queued runs of `device_id` that may start at `now` (not_before passed), oldest first:
/// plain runs, at most `limit` (the runner's free plain slots), then workflow steps, at most
/// `step_limit` (its free step slots; a step of a paused or cancelled workflow run waits).
pub fn claimable(
    conn: &Connection,
    device_id: &str,
    now: Timestamp,
    limit: u32,
    step_limit: u32,
) -> Result<Vec<Execution>> {
    let mut ready = Vec::new();
    for (filter, limit) in [(CLAIM_PLAIN, limit), (CLAIM_STEPS, step_limit)] {
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM executions {filter}"))?;
        let rows = stmt.query_map(params![device_id, now.as_millis(), limit], from_row)?;
        ready.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    Ok(ready)
}

/// The earliest future `not_before` among queued runs of `device_id`, if any.
pub fn next_not_before(conn: &Connection, device_id: &str, now: Timestamp) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT min(not_before) FROM executions
             WHERE status = 'queued' AND device_id = ?1 AND not_before > ?2",
        )?
        .query_row(params![device_id, now.as_millis()], |r| r.get(0))?)
}

/// Runs left `running` on `device_id` by an executor process. A `workflow` run is not one:
/// it lives as long as its workflow run, which resumes from its checkpoint instead.
pub fn running_on_device(conn: &Connection, device_id: &str) -> Result<Vec<Execution>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM executions
         WHERE status = 'running' AND device_id = ?1 AND executor != 'workflow'
         ORDER BY queued_at, id"
    ))?;
    let rows = stmt.query_map([device_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// queued -> running. False when the row was no longer queued.
pub fn mark_running(conn: &Connection, id: &str, at: Timestamp) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE executions SET status = 'running', started_at = ?2
             WHERE id = ?1 AND status = 'queued'",
        )?
        .execute(params![id, at.as_millis()])?;
    Ok(n == 1)
}

/// Writes a run's final status and outcome.
pub fn finish(conn: &Connection, run: &Execution) -> Result<()> {
    conn.prepare_cached(
        "UPDATE executions SET status = ?2, exit_code = ?3, result = ?4, error = ?5,
             finished_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        run.id,
        run.status.as_str(),
        run.exit_code,
        run.result.as_ref().map(|r| r.to_string()),
        run.error,
        run.finished_at.map(Timestamp::as_millis),
    ])?;
    Ok(())
}

/// Rewrites a run's result alone (a finished run's worktree record after a merge or discard).
pub fn set_result(conn: &Connection, id: &str, result: Option<&serde_json::Value>) -> Result<()> {
    conn.prepare_cached("UPDATE executions SET result = ?2 WHERE id = ?1")?
        .execute(params![id, result.map(|r| r.to_string())])?;
    Ok(())
}

/// When a cancel was asked for, if it was.
pub fn cancel_requested_at(conn: &Connection, id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT cancel_requested_at FROM executions WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// The newest event of `kind` in a run's timeline.
pub fn last_event_of_kind(
    conn: &Connection,
    execution_id: &str,
    kind: &str,
) -> Result<Option<ExecutionEvent>> {
    Ok(conn
        .query_row(
            "SELECT execution_id, seq, at, kind, data FROM execution_events
             WHERE execution_id = ?1 AND kind = ?2
             UNION ALL
             SELECT execution_id, seq, at, kind, data FROM staged_execution_events
             WHERE execution_id = ?1 AND kind = ?2
             ORDER BY seq DESC LIMIT 1",
            params![execution_id, kind],
            |r| {
                Ok(ExecutionEvent {
                    execution_id: r.get(0)?,
                    seq: r.get(1)?,
                    at: Timestamp(r.get(2)?),
                    kind: r.get(3)?,
                    data: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// The retry queued for run `id`, if one was.
pub fn retry_of(conn: &Connection, id: &str) -> Result<Option<Execution>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM executions WHERE retry_of = ?1 ORDER BY queued_at DESC LIMIT 1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// Runs that ended before `cutoff` (ms) and still have events other than a `pruned` mark,
/// at most `limit` (retention). Staged events are not looked at: they are a step's newest,
/// and the write that prunes moves them first.
pub fn ended_with_history(conn: &Connection, cutoff: i64, limit: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id FROM executions e
         WHERE e.finished_at IS NOT NULL AND e.finished_at < ?1
           AND EXISTS (SELECT 1 FROM execution_events v
                       WHERE v.execution_id = e.id AND v.kind != 'pruned')
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![cutoff, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes every event of run `id`.
pub fn delete_events(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM execution_events WHERE execution_id = ?1", [id])?;
    Ok(())
}

/// How many runs wait in the queue for device `device_id`.
pub fn queued_on(conn: &Connection, device_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM executions WHERE status = 'queued' AND device_id = ?1",
        )?
        .query_row([device_id], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claim's plans walk the queue index in order: no read of every queued run, no sort.
    #[test]
    fn the_claim_walks_the_queue_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::test_histories::store(&dir, "plan");
        for filter in [CLAIM_PLAIN, CLAIM_STEPS] {
            let plan: Vec<String> = store
                .read(|c| {
                    let sql =
                        format!("EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM executions {filter}");
                    let mut stmt = c.prepare(&sql)?;
                    let rows =
                        stmt.query_map(params!["device", 0, 1], |r| r.get::<_, String>(3))?;
                    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
                })
                .unwrap();
            let plan = plan.join("\n");
            assert!(
                plan.contains("SEARCH executions USING INDEX executions_queue"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}

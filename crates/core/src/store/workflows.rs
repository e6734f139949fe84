//! SQL for workflows: definition versions, runs, approvals, snapshots, and the step
//! durations progress estimates from.

use std::collections::{BTreeMap, BTreeSet};

use flightdeck_types::{
    Approval, Checkpoint, Decision, RunControl, Snapshot, StepState, Timestamp, Workflow,
    WorkflowRun, WorkflowRunFilter, WorkflowRunStatus,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::run_steps;
use super::Writer;
use crate::error::{CoreError, Result};

fn text_err(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

fn enum_err(i: usize, msg: String) -> rusqlite::Error {
    text_err(i, std::io::Error::new(std::io::ErrorKind::InvalidData, msg))
}

const WORKFLOW_COLUMNS: &str = "id, version, name, definition, created_at";

fn workflow_from_row(row: &Row<'_>) -> rusqlite::Result<Workflow> {
    let definition: String = row.get(3)?;
    Ok(Workflow {
        id: row.get(0)?,
        version: row.get(1)?,
        name: row.get(2)?,
        definition: serde_json::from_str(&definition).map_err(|e| text_err(3, e))?,
        created_at: Timestamp(row.get(4)?),
    })
}

pub fn insert_workflow(conn: &Connection, w: &Workflow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO workflows (id, version, name, definition, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        w.id,
        w.version,
        w.name,
        serde_json::to_string(&w.definition).expect("definitions always serialize"),
        w.created_at.as_millis(),
    ])?;
    Ok(())
}

/// Rows of one workflow are its name's: a version row's id names that one definition (see
/// `workflows::version_id`), while rows written before 0.1's versions-under-sync fix share one
/// id per workflow. `key` is a name, or the id of any of its rows.
const NAME_OF_KEY: &str = "coalesce((SELECT name FROM workflows WHERE id = ?1 LIMIT 1), ?1)";

/// The order of a workflow's versions, the same on every device: by number, then (for two
/// versions applied under one number on two devices while offline) by creation, then id.
const VERSION_ORDER: &str = "version DESC, created_at DESC, id DESC";

/// The newest version of the workflow named (or with a row id) `key`, removed ones included,
/// and whether it is removed.
pub fn newest(conn: &Connection, key: &str) -> Result<Option<(Workflow, bool)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {WORKFLOW_COLUMNS}, removed_at IS NOT NULL FROM workflows
             WHERE name = {NAME_OF_KEY} ORDER BY {VERSION_ORDER} LIMIT 1"
        ))?
        .query_row([key], |r| Ok((workflow_from_row(r)?, r.get::<_, bool>(5)?)))
        .optional()?)
}

/// Exactly the row `(id, version)`: the definition a run pinned.
pub fn version(conn: &Connection, id: &str, version: u32) -> Result<Workflow> {
    conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = ?1 AND version = ?2"
    ))?
    .query_row(params![id, version], workflow_from_row)
    .optional()?
    .ok_or_else(|| CoreError::NotFound {
        kind: "workflow version",
        key: format!("{id} v{version}"),
    })
}

/// The stored text of the row `(id, version)`.
pub fn definition_text(conn: &Connection, id: &str, version: u32) -> Result<String> {
    conn.prepare_cached("SELECT definition FROM workflows WHERE id = ?1 AND version = ?2")?
        .query_row(params![id, version], |r| r.get(0))
        .optional()?
        .ok_or_else(|| CoreError::NotFound {
            kind: "workflow version",
            key: format!("{id} v{version}"),
        })
}

/// Version `version` of the workflow named `name`; of two applied under one number on two
/// devices, the later (the same one on every device).
pub fn named_version(conn: &Connection, name: &str, version: u32) -> Result<Workflow> {
    conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE name = ?1 AND version = ?2
         ORDER BY {VERSION_ORDER} LIMIT 1"
    ))?
    .query_row(params![name, version], workflow_from_row)
    .optional()?
    .ok_or_else(|| CoreError::NotFound {
        kind: "workflow version",
        key: format!("{name} v{version}"),
    })
}

/// Every version of the workflow named `name`, oldest first.
pub fn versions(conn: &Connection, name: &str) -> Result<Vec<Workflow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE name = ?1
         ORDER BY version, created_at, id"
    ))?;
    let rows = stmt.query_map([name], workflow_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest version of every workflow not removed, by name.
pub fn list_newest(conn: &Connection) -> Result<Vec<Workflow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLUMNS} FROM workflows w
         WHERE w.id = (SELECT v.id FROM workflows v WHERE v.name = w.name
                       ORDER BY {VERSION_ORDER} LIMIT 1)
           AND w.version = (SELECT v.version FROM workflows v WHERE v.name = w.name
                            ORDER BY {VERSION_ORDER} LIMIT 1)
           AND removed_at IS NULL
         ORDER BY name"
    ))?;
    let rows = stmt.query_map([], workflow_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks every version of the workflow named `name` removed (`None` brings them back).
pub fn set_removed(conn: &Connection, name: &str, at: Option<Timestamp>) -> Result<()> {
    conn.execute(
        "UPDATE workflows SET removed_at = ?2 WHERE name = ?1 AND removed_at IS NOT ?2",
        params![name, at.map(Timestamp::as_millis)],
    )?;
    Ok(())
}

const RUN_COLUMNS: &str = "id, workflow_id, workflow_name, workflow_version, status, control, \
     device_id, task_id, environment_id, parent_execution_id, rerun_of, rerun_from, checkpoint, \
     error, queued_at, started_at, finished_at, updated_at";

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<WorkflowRun> {
    let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    let checkpoint: String = row.get(12)?;
    Ok(WorkflowRun {
        id: row.get(0)?,
        workflow_id: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
        workflow_name: row.get(2)?,
        version: row.get(3)?,
        // A status or control from a newer peer: read as the nearest one this build knows.
        status: row
            .get::<_, String>(4)?
            .parse()
            .unwrap_or(WorkflowRunStatus::Failed),
        control: row.get::<_, String>(5)?.parse().unwrap_or(RunControl::Run),
        device_id: row.get(6)?,
        task_id: row.get(7)?,
        environment_id: row.get(8)?,
        parent_execution_id: row.get(9)?,
        rerun_of: row.get(10)?,
        rerun_from: row.get(11)?,
        checkpoint: serde_json::from_str::<Checkpoint>(&checkpoint).map_err(|e| text_err(12, e))?,
        error: row.get(13)?,
        queued_at: Timestamp(row.get(14)?),
        started_at: ts(15)?,
        finished_at: ts(16)?,
        updated_at: Timestamp(row.get(17)?),
    })
}

pub fn insert_run(conn: &Connection, r: &WorkflowRun) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO workflow_runs (id, workflow_id, workflow_name, workflow_version, status,
             control, device_id, task_id, environment_id, parent_execution_id, rerun_of,
             rerun_from, checkpoint, error, queued_at, started_at, finished_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18)",
    )?
    .execute(params![
        r.id,
        r.workflow_id,
        r.workflow_name,
        r.version,
        r.status.as_str(),
        r.control.as_str(),
        r.device_id,
        r.task_id,
        r.environment_id,
        r.parent_execution_id,
        r.rerun_of,
        r.rerun_from,
        head_text(&r.checkpoint),
        r.error,
        r.queued_at.as_millis(),
        r.started_at.map(Timestamp::as_millis),
        r.finished_at.map(Timestamp::as_millis),
        r.updated_at.as_millis(),
    ])?;
    run_steps::save(conn, r, None)
}

/// The `checkpoint` cell: the checkpoint without its steps, which have rows of their own
/// (see [`run_steps`]). Every field is named, so that a new one is not left out unseen.
fn head_text(c: &Checkpoint) -> String {
    let head = Checkpoint {
        params: c.params.clone(),
        steps: BTreeMap::new(),
        boundaries: c.boundaries,
        children: c.children.clone(),
        deadline: c.deadline,
        paused_at: c.paused_at,
        overrides: c.overrides.clone(),
        forked: c.forked,
        moved: Default::default(),
    };
    serde_json::to_string(&head).expect("checkpoints always serialize")
}

/// Writes what the runner device owns: status, checkpoint, error and times. Never `control`,
/// which other devices write. cr-sqlite records only the columns whose value changed, and of
/// the steps only those that differ from `before` (the steps as the run was read) are
/// written: a boundary costs the same at step 1,000 as at step 1.
pub fn save_run_state(
    conn: &Connection,
    r: &WorkflowRun,
    moved: Option<&BTreeSet<String>>,
) -> Result<()> {
    let all = run_steps::held_in_cell(conn, &r.id)?;
    conn.prepare_cached(
        "UPDATE workflow_runs SET checkpoint = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![
        r.id,
        head_text(&r.checkpoint),
        r.error,
        r.updated_at.as_millis(),
    ])?;
    // The indexed columns only when they changed: most boundaries (a step ended, the next
    // started) leave them as they were, and an UPDATE that sets a column rewrites the entries
    // of every index holding it (here two: by status, and the insights' covering index).
    conn.prepare_cached(
        "UPDATE workflow_runs SET status = ?2, started_at = ?3, finished_at = ?4
         WHERE id = ?1
           AND (status IS NOT ?2 OR started_at IS NOT ?3 OR finished_at IS NOT ?4)",
    )?
    .execute(params![
        r.id,
        r.status.as_str(),
        r.started_at.map(Timestamp::as_millis),
        r.finished_at.map(Timestamp::as_millis),
    ])?;
    run_steps::save(conn, r, moved.filter(|_| !all))
}

/// Moves run `id` to device `device_id` (adoption).
pub fn set_device(conn: &Connection, id: &str, device_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE workflow_runs SET device_id = ?2 WHERE id = ?1",
        params![id, device_id],
    )?;
    Ok(())
}

pub fn set_control(conn: &Connection, id: &str, control: RunControl) -> Result<()> {
    conn.execute(
        "UPDATE workflow_runs SET control = ?2 WHERE id = ?1",
        params![id, control.as_str()],
    )?;
    Ok(())
}

pub fn find_run(conn: &Connection, id: &str) -> Result<WorkflowRun> {
    find_run_with(conn, id, false)
}

/// [`find_run`] for the engine inside a write: the run's parsed steps are handed over
/// rather than copied; give them back with [`keep_steps`] once saved.
pub fn take_run(conn: &Connection, id: &str) -> Result<WorkflowRun> {
    find_run_with(conn, id, true)
}

/// Gives the steps [`take_run`] handed over back to the cache (see `run_steps`).
pub fn keep_steps(conn: &Connection, id: &str, steps: BTreeMap<String, StepState>) {
    run_steps::keep(conn, id, steps)
}

fn find_run_with(conn: &Connection, id: &str, take: bool) -> Result<WorkflowRun> {
    let mut run = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1"
        ))?
        .query_row([id], run_from_row)
        .optional()?
        .ok_or_else(|| CoreError::NotFound {
            kind: "workflow run",
            key: id.to_string(),
        })?;
    run_steps::load(conn, &mut run, take)?;
    Ok(run)
}

/// Run `id`'s status, as [`run_from_row`] reads it.
pub fn run_status(conn: &Connection, id: &str) -> Result<WorkflowRunStatus> {
    let status: String = conn
        .prepare_cached("SELECT status FROM workflow_runs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| CoreError::NotFound {
            kind: "workflow run",
            key: id.to_string(),
        })?;
    Ok(status.parse().unwrap_or(WorkflowRunStatus::Failed))
}

/// The run a `workflow` execution started, if it started one.
pub fn run_of_parent_execution(conn: &Connection, execution_id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM workflow_runs WHERE parent_execution_id = ?1")?
        .query_row([execution_id], |r| r.get(0))
        .optional()?)
}

pub fn list_runs(
    conn: &Connection,
    workflow_name: Option<&str>,
    filter: &WorkflowRunFilter,
) -> Result<Vec<WorkflowRun>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM workflow_runs
         WHERE (?1 IS NULL OR workflow_name = ?1) AND (?2 IS NULL OR status = ?2)
         ORDER BY queued_at DESC, id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![
            workflow_name,
            filter.status.map(WorkflowRunStatus::as_str),
            filter.limit.unwrap_or(100)
        ],
        run_from_row,
    )?;
    let mut runs: Vec<WorkflowRun> = rows.collect::<rusqlite::Result<_>>()?;
    for run in &mut runs {
        run_steps::load(conn, run, false)?;
    }
    Ok(runs)
}

/// Ids of the runs not final whose runner is `device_id`, oldest first.
pub fn live_run_ids(conn: &Connection, device_id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM workflow_runs
         WHERE status NOT IN ('succeeded', 'failed', 'cancelled') AND device_id = ?1
         ORDER BY queued_at, id",
    )?;
    let rows = stmt.query_map([device_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn upsert_approval(conn: &Connection, run_id: &str, step_id: &str, a: &Approval) -> Result<()> {
    conn.execute(
        "INSERT INTO workflow_approvals (run_id, step_id, decision, comment, decided_by,
             decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (run_id, step_id) DO UPDATE SET decision = excluded.decision,
             comment = excluded.comment, decided_by = excluded.decided_by,
             decided_at = excluded.decided_at",
        params![
            run_id,
            step_id,
            a.decision.as_str(),
            a.comment,
            a.decided_by,
            a.decided_at.as_millis()
        ],
    )?;
    Ok(())
}

pub fn approval(conn: &Connection, run_id: &str, step_id: &str) -> Result<Option<Approval>> {
    Ok(conn
        .prepare_cached(
            "SELECT decision, comment, decided_by, decided_at FROM workflow_approvals
             WHERE run_id = ?1 AND step_id = ?2",
        )?
        .query_row(params![run_id, step_id], |r| {
            let decision: String = r.get(0)?;
            Ok(Approval {
                decision: decision.parse::<Decision>().map_err(|e| enum_err(0, e))?,
                comment: r.get(1)?,
                decided_by: r.get(2)?,
                decided_at: Timestamp(r.get(3)?),
            })
        })
        .optional()?)
}

/// Records a boundary's snapshot, to the staging table when the write stages its history.
pub fn insert_snapshot(w: &Writer<'_>, s: &Snapshot) -> Result<()> {
    w.prepare_cached(&super::staged::insert_sql(
        "execution_snapshots",
        w.staging(),
    ))?
    .execute(params![
        s.id,
        s.execution_id,
        s.workflow_run_id,
        s.seq,
        s.label,
        s.inputs.to_string(),
        s.outputs.to_string(),
        serde_json::to_string(&s.checkpoint).expect("checkpoints always serialize"),
        s.started_at.as_millis(),
        s.finished_at.map(Timestamp::as_millis),
        s.step_id,
        s.recorded_at.map(Timestamp::as_millis),
    ])?;
    Ok(())
}

pub fn snapshots(conn: &Connection, run_id: &str) -> Result<Vec<Snapshot>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, execution_id, workflow_run_id, step_index, step_id, label, inputs, outputs,
             state, started_at, finished_at, recorded_at
         FROM execution_snapshots WHERE workflow_run_id = ?1
         UNION ALL
         SELECT id, execution_id, workflow_run_id, step_index, step_id, label, inputs, outputs,
             state, started_at, finished_at, recorded_at
         FROM staged_execution_snapshots WHERE workflow_run_id = ?1
         ORDER BY step_index",
    )?;
    let rows = stmt.query_map([run_id], |r| {
        let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
            serde_json::from_str(&r.get::<_, String>(i)?).map_err(|e| text_err(i, e))
        };
        let state: String = r.get(8)?;
        Ok(Snapshot {
            id: r.get(0)?,
            execution_id: r.get(1)?,
            workflow_run_id: r.get(2)?,
            seq: r.get(3)?,
            step_id: r.get(4)?,
            label: r.get(5)?,
            inputs: json(6)?,
            outputs: json(7)?,
            checkpoint: serde_json::from_str(&state).map_err(|e| text_err(8, e))?,
            started_at: Timestamp(r.get(9)?),
            finished_at: r.get::<_, Option<i64>>(10)?.map(Timestamp),
            recorded_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Durations (ms) of the succeeded attempts of step `step_id` in earlier runs of workflow
/// `workflow_id`, newest first, at most `limit`.
pub fn step_durations(
    conn: &Connection,
    workflow_name: &str,
    step_id: &str,
    exclude_run: &str,
    limit: u32,
) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.finished_at - e.started_at FROM executions e
         JOIN workflow_runs r ON r.id = e.workflow_run_id
         WHERE r.workflow_name = ?1 AND e.step_id = ?2 AND e.status = 'succeeded'
           AND r.id != ?3 AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL
         ORDER BY e.finished_at DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![workflow_name, step_id, exclude_run, limit], |r| {
        r.get(0)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The runs made from run `id` by `rerun` or `fork`: (run id, step, forked), oldest first.
pub fn made_from(conn: &Connection, id: &str) -> Result<Vec<(String, Option<String>, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, rerun_from, coalesce(json_extract(checkpoint, '$.forked'), 0)
         FROM workflow_runs WHERE rerun_of = ?1 ORDER BY queued_at, id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Workflow runs that ended before `cutoff` (ms) and still have snapshots other than a
/// `pruned` one, at most `limit` (retention). Staged snapshots are not looked at, as for
/// events ([`super::executions::ended_with_history`]).
pub fn ended_with_snapshots(conn: &Connection, cutoff: i64, limit: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id FROM workflow_runs r
         WHERE r.finished_at IS NOT NULL AND r.finished_at < ?1
           AND EXISTS (SELECT 1 FROM execution_snapshots s
                       WHERE s.workflow_run_id = r.id AND s.label != 'pruned')
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![cutoff, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes every snapshot of workflow run `id`.
pub fn delete_snapshots(conn: &Connection, id: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM execution_snapshots WHERE workflow_run_id = ?1",
        [id],
    )?;
    Ok(())
}

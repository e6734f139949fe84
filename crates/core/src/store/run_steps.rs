//! `workflow_run_steps`: a workflow run's step states, a row per checkpoint entry (a step id,
//! or `ID[INDEX]` for a fan-out's item). The run's `checkpoint` cell holds the rest with
//! `steps` empty, so a boundary writes the rows of the steps that moved and a small cell,
//! not every step's state again. Runs saved before migration 0018 hold their steps in
//! `checkpoint`; they read as they are, and a live one moves them here at its next save.

use std::collections::BTreeMap;

use flightdeck_types::{StepState, WorkflowRun};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{CoreError, Result};

/// Adds the run's step rows to the steps its `checkpoint` cell held (none since 0018); a row
/// wins over an entry of the same key.
pub(super) fn load(conn: &Connection, run: &mut WorkflowRun) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("SELECT step_key, state FROM workflow_run_steps WHERE run_id = ?1")?;
    let mut rows = stmt.query([&run.id])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let text = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let state: StepState = serde_json::from_str(text).map_err(|e| {
            CoreError::Corrupt(format!("workflow run {} step `{key}`: {e}", run.id))
        })?;
        run.checkpoint.steps.insert(key, state);
    }
    Ok(())
}

/// Writes the rows of the steps that differ from `before` (what the rows held when the run
/// was read) and deletes those gone; every step when `before` is `None`.
pub(super) fn save(
    conn: &Connection,
    run: &WorkflowRun,
    before: Option<&BTreeMap<String, StepState>>,
) -> Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO workflow_run_steps (run_id, step_key, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (run_id, step_key) DO UPDATE SET state = excluded.state",
    )?;
    for (key, state) in &run.checkpoint.steps {
        if before.is_some_and(|b| b.get(key) == Some(state)) {
            continue;
        }
        let text = serde_json::to_string(state).expect("step states always serialize");
        upsert.execute(params![run.id, key, text])?;
    }
    if let Some(before) = before {
        let mut delete = conn
            .prepare_cached("DELETE FROM workflow_run_steps WHERE run_id = ?1 AND step_key = ?2")?;
        for key in before.keys() {
            if !run.checkpoint.steps.contains_key(key) {
                delete.execute(params![run.id, key])?;
            }
        }
    }
    Ok(())
}

/// Whether run `id`'s `checkpoint` cell still holds step states (saved before 0018, or by a
/// peer that predates it): then its next save writes every step's row.
pub(super) fn held_in_cell(conn: &Connection, id: &str) -> Result<bool> {
    let steps: Option<String> = conn
        .prepare_cached(
            "SELECT json_extract(checkpoint, '$.steps') FROM workflow_runs WHERE id = ?1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(steps.is_some_and(|s| s != "{}"))
}

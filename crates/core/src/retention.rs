//! Retention (time travel, issue 33): run events and workflow snapshots grow without bound,
//! so a setting (`runs settings --keep-history DAYS`; unset: forever) keeps them that many
//! days after their run ended. A worker prunes in the background, a batch of runs per write
//! so that writes are never held up long. A pruned run keeps its row (status, times, result)
//! and says so: one `pruned` event in place of its events, and for a workflow run one
//! `pruned` snapshot holding its final checkpoint whole, so that replay shows its end.

use flightdeck_types::{ExecutionEvent, Snapshot};

use crate::error::Result;
use crate::store::{executions, workflows as sql, Store, Writer};

/// Runs pruned per write transaction.
const BATCH: usize = 200;

/// What [`prune`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub runs: usize,
    pub workflow_runs: usize,
}

/// Prunes the history of every run that ended more than `days` days before now, in batches.
pub fn prune(store: &Store, days: u32) -> Result<Pruned> {
    let cutoff = crate::clock::now_millis() - i64::from(days) * 86_400_000;
    let mut total = Pruned::default();
    loop {
        let done = store.write(|w| prune_batch(w, cutoff))?;
        total.runs += done.runs;
        total.workflow_runs += done.workflow_runs;
        if done.runs + done.workflow_runs < BATCH {
            return Ok(total);
        }
    }
}

fn prune_batch(w: &mut Writer<'_>, cutoff: i64) -> Result<Pruned> {
    let runs = executions::ended_with_history(w, cutoff, BATCH)?;
    for id in &runs {
        let seq = executions::next_event_seq(w, id)?;
        executions::delete_events(w, id)?;
        executions::insert_event(
            w,
            &ExecutionEvent {
                execution_id: id.clone(),
                seq,
                at: w.now(),
                kind: "pruned".into(),
                data: "its events were removed by the retention setting".into(),
            },
        )?;
    }
    let workflow_runs = sql::ended_with_snapshots(w, cutoff, BATCH)?;
    for id in &workflow_runs {
        let run = sql::find_run(w, id)?;
        sql::delete_snapshots(w, id)?;
        // The whole final checkpoint, as the first snapshot of a run holds its first one.
        sql::insert_snapshot(
            w,
            &Snapshot {
                id: crate::ids::new_id(),
                workflow_run_id: id.clone(),
                execution_id: None,
                seq: 0,
                step_id: None,
                label: "pruned".into(),
                inputs: serde_json::json!({}),
                outputs: serde_json::json!({}),
                checkpoint: run.checkpoint.clone(),
                started_at: run.finished_at.unwrap_or(w.now()),
                finished_at: run.finished_at,
                recorded_at: run.finished_at,
            },
        )?;
    }
    Ok(Pruned {
        runs: runs.len(),
        workflow_runs: workflow_runs.len(),
    })
}

//! Progress of a run: steps done of total, the running and waiting steps, elapsed time, and
//! an ETA: the critical path through the remaining steps, each costed at its historical
//! median (same workflow id and step id), minus what a running step has already spent.

use std::collections::HashMap;

use flightdeck_types::{ItemProgress, StepProgress, StepStatus, Timestamp, WorkflowProgress};
use rusqlite::Connection;

use crate::error::Result;
use crate::store::workflows as sql;

/// Runs looked at per step for its median.
const HISTORY: u32 = 200;
/// Fewer earlier runs than this make the ETA a guess.
const ENOUGH_SAMPLES: u32 = 3;

pub fn of_run(c: &Connection, run_id: &str, now: Timestamp) -> Result<WorkflowProgress> {
    let run = sql::find_run(c, run_id)?;
    let def = sql::version(c, &run.workflow_id, run.version)?.definition;
    let mut steps = Vec::with_capacity(def.steps.len());
    let mut cost: HashMap<&str, i64> = HashMap::new();
    let mut guess = false;
    for step in &def.steps {
        let state = run.checkpoint.steps.get(&step.id);
        let status = state.map_or(StepStatus::Pending, |s| s.status);
        let mut samples = sql::step_durations(c, &run.workflow_name, &step.id, &run.id, HISTORY)?;
        samples.sort_unstable();
        let p50 = median(&samples);
        let started = state.and_then(|s| s.started_at);
        let duration_ms = match (started, state.and_then(|s| s.finished_at)) {
            (Some(s), Some(f)) => Some(f.as_millis() - s.as_millis()),
            (Some(s), None) => Some(now.as_millis() - s.as_millis()),
            _ => None,
        };
        if !status.is_final() {
            if (samples.len() as u32) < ENOUGH_SAMPLES {
                guess = true;
            }
            let spent = if status == StepStatus::Running {
                duration_ms.unwrap_or(0)
            } else {
                0
            };
            cost.insert(&step.id, (p50.unwrap_or(0) - spent).max(0));
        }
        steps.push(StepProgress {
            id: step.id.clone(),
            executor: step.action.executor().to_string(),
            needs: step.needs.clone(),
            status,
            attempt: state.map_or(0, |s| s.attempt),
            execution_id: state.and_then(|s| s.execution_id.clone()),
            duration_ms,
            p50_ms: p50,
            samples: samples.len() as u32,
            error: state.and_then(|s| s.error.clone()),
            items: (0..state.and_then(|s| s.items).unwrap_or(0))
                .map(|i| {
                    let item = run
                        .checkpoint
                        .steps
                        .get(&crate::workflows::engine::fanout::item_key(&step.id, i));
                    ItemProgress {
                        index: i,
                        status: item.map_or(StepStatus::Pending, |s| s.status),
                        attempt: item.map_or(0, |s| s.attempt),
                        execution_id: item.and_then(|s| s.execution_id.clone()),
                        error: item.and_then(|s| s.error.clone()),
                    }
                })
                .collect(),
        });
    }
    // Longest path through the remaining steps; `needs` come first in topological order,
    // which a memoised walk gives without sorting.
    fn finish_at<'a>(
        id: &'a str,
        def: &'a flightdeck_types::WorkflowDefinition,
        cost: &HashMap<&'a str, i64>,
        memo: &mut HashMap<&'a str, i64>,
    ) -> i64 {
        if let Some(v) = memo.get(id) {
            return *v;
        }
        let Some(own) = cost.get(id) else {
            return 0;
        };
        let before = def
            .step(id)
            .map(|s| {
                s.needs
                    .iter()
                    .map(|n| finish_at(n, def, cost, memo))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        memo.insert(id, before + own);
        before + own
    }
    let mut memo = HashMap::new();
    let remaining = def
        .steps
        .iter()
        .map(|s| finish_at(&s.id, &def, &cost, &mut memo))
        .max()
        .unwrap_or(0);
    let live = !run.status.is_final();
    let elapsed_ms = match (run.started_at, run.finished_at) {
        (Some(s), Some(f)) => f.as_millis() - s.as_millis(),
        (Some(s), None) => now.as_millis() - s.as_millis(),
        _ => 0,
    };
    let of = |want: StepStatus| -> Vec<String> {
        steps
            .iter()
            .filter(|s| s.status == want)
            .map(|s| s.id.clone())
            .collect()
    };
    Ok(WorkflowProgress {
        total: steps.len() as u32,
        done: steps.iter().filter(|s| s.status.is_final()).count() as u32,
        running: of(StepStatus::Running),
        waiting_approval: of(StepStatus::WaitingApproval),
        elapsed_ms,
        remaining_ms: live.then_some(remaining),
        eta: live.then(|| Timestamp(now.as_millis() + remaining)),
        eta_is_guess: live && guess,
        steps,
        run,
    })
}

/// The exact median of sorted samples (the lower one of the middle two).
fn median(sorted: &[i64]) -> Option<i64> {
    if sorted.is_empty() {
        None
    } else {
        Some(sorted[(sorted.len() - 1) / 2])
    }
}

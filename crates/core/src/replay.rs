//! Replay: a past run as it stood at any instant. A workflow run's timeline is its step
//! boundaries (snapshots, each rebuilt to the whole checkpoint in force from its instant on);
//! a plain run's is its status changes. The state at T is the one after the last mark at or
//! before T; the log is every event recorded by T.

use flightdeck_types::{
    ExecutionEvent, ReplayLine, ReplayMark, ReplayState, ReplayStep, Snapshot, Timestamp,
};

use crate::error::{CoreError, Result};
use crate::store::Store;

/// Which instant of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instant {
    At(Timestamp),
    /// The instant of mark number N (a boundary, or a plain run's status change).
    Mark(u32),
}

/// Run `run_id` (a workflow run or a plain run) at `instant`, with at most `log_limit` lines
/// of its log.
pub fn at(store: &Store, run_id: &str, instant: Instant, log_limit: usize) -> Result<ReplayState> {
    match crate::workflows::get_run(store, run_id) {
        Ok(run) => workflow_at(store, &run, instant, log_limit),
        Err(CoreError::NotFound { .. }) => plain_at(store, run_id, instant, log_limit),
        Err(e) => Err(e),
    }
}

fn mark_of(s: &Snapshot) -> ReplayMark {
    ReplayMark {
        seq: s.seq,
        at: s.instant(),
        label: s.label.clone(),
        step_id: s.step_id.clone(),
    }
}

/// The index of the last mark at or before `t` (marks ordered by time), if any.
fn last_at_or_before(times: &[Timestamp], t: Timestamp) -> Option<usize> {
    times.iter().rposition(|m| *m <= t)
}

/// The instant and the index of the mark in force then: mark N itself when asked for by
/// number (marks recorded in one millisecond are told apart), else the last at or before it.
fn resolve(instant: Instant, times: &[Timestamp]) -> Result<(Timestamp, Option<usize>)> {
    match instant {
        Instant::At(t) => Ok((t, last_at_or_before(times, t))),
        Instant::Mark(n) => times
            .get(n as usize)
            .map(|t| (*t, Some(n as usize)))
            .ok_or_else(|| {
                CoreError::invalid(
                    "step",
                    format!(
                        "the run has {} marks (0 to {}); no mark {n}",
                        times.len(),
                        times.len().saturating_sub(1)
                    ),
                )
            }),
    }
}

fn position(k: Option<usize>, count: usize) -> String {
    match k {
        None => "before",
        Some(i) if i + 1 == count => "after",
        Some(_) => "during",
    }
    .to_string()
}

/// The instant of the first event of `kind` (`stdout`, `stderr`, `status`, ...) of run
/// `run_id` after `from` (or the last one before it, going `backward`), if there is one.
pub fn event_instant(
    store: &Store,
    run_id: &str,
    from: Timestamp,
    kind: &str,
    backward: bool,
) -> Result<Option<Timestamp>> {
    let executions = match crate::workflows::get_run(store, run_id) {
        Ok(run) => crate::runs::list(
            store,
            &flightdeck_types::ExecutionFilter {
                workflow_run_id: Some(run.id),
                limit: Some(100_000),
                ..Default::default()
            },
        )?
        .into_iter()
        .map(|e| e.id)
        .collect(),
        Err(CoreError::NotFound { .. }) => vec![crate::runs::get(store, run_id)?.id],
        Err(e) => return Err(e),
    };
    let mut found: Option<Timestamp> = None;
    for exec in executions {
        for e in crate::runs::all_events(store, &exec)?
            .into_iter()
            .filter(|e| e.kind == kind)
        {
            let better = if backward {
                e.at < from && found.is_none_or(|f| e.at > f)
            } else {
                e.at > from && found.is_none_or(|f| e.at < f)
            };
            if better {
                found = Some(e.at);
            }
        }
    }
    Ok(found)
}

/// The last `limit` of `lines`, and how many were left out before them.
fn tail(mut lines: Vec<ReplayLine>, limit: usize) -> (Vec<ReplayLine>, u32) {
    let before = lines.len().saturating_sub(limit);
    (lines.split_off(before), before as u32)
}

fn is_log(e: &ExecutionEvent) -> bool {
    !matches!(e.kind.as_str(), "status" | "process" | "pruned")
}

fn workflow_at(
    store: &Store,
    run: &flightdeck_types::WorkflowRun,
    instant: Instant,
    log_limit: usize,
) -> Result<ReplayState> {
    let snapshots = crate::workflows::snapshots(store, &run.id)?;
    let times: Vec<Timestamp> = snapshots.iter().map(Snapshot::instant).collect();
    let (t, k) = resolve(instant, &times)?;
    let def = crate::workflows::definition_of(store, run)?;
    let status = match k {
        None => "not yet queued".to_string(),
        Some(k) => snapshots[..=k]
            .iter()
            .rev()
            .find(|s| s.step_id.is_none())
            .map(|s| match s.label.as_str() {
                "resumed" => "running".to_string(),
                "adopted" => "interrupted".to_string(),
                // Its history is gone; its end is what is known.
                "pruned" => run.status.to_string(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "queued".to_string()),
    };
    let checkpoint = k.map(|k| snapshots[k].checkpoint.clone());
    // Steps in the file's order, each fan-out step followed by its items.
    let mut steps = Vec::new();
    if let Some(cp) = &checkpoint {
        for step in &def.steps {
            let keys = crate::workflows::engine::fanout::entries_of(cp, &step.id);
            for key in keys {
                if let Some(state) = cp.steps.get(&key) {
                    steps.push(ReplayStep {
                        id: key,
                        status: state.status,
                        attempt: state.attempt,
                        outputs: state.outputs.clone(),
                        error: state.error.clone(),
                    });
                }
            }
        }
    }
    let mut lines = Vec::new();
    for exec in crate::runs::list(
        store,
        &flightdeck_types::ExecutionFilter {
            workflow_run_id: Some(run.id.clone()),
            limit: Some(100_000),
            ..Default::default()
        },
    )? {
        for e in crate::runs::all_events(store, &exec.id)?
            .into_iter()
            .filter(|e| e.at <= t && is_log(e))
        {
            lines.push(ReplayLine {
                step: exec.step_id.clone(),
                at: e.at,
                kind: e.kind,
                data: e.data,
            });
        }
    }
    lines.sort_by_key(|l| l.at);
    let (log, log_before) = tail(lines, log_limit);
    Ok(ReplayState {
        run_id: run.id.clone(),
        kind: "workflow".into(),
        what: format!("{} v{}", run.workflow_name, run.version),
        at: t,
        position: position(k, snapshots.len()),
        status,
        mark: k.map(|k| mark_of(&snapshots[k])),
        previous: k
            .and_then(|k| k.checked_sub(1))
            .map(|p| mark_of(&snapshots[p])),
        next: snapshots.get(k.map_or(0, |k| k + 1)).map(mark_of),
        marks: snapshots.len() as u32,
        steps,
        checkpoint,
        log,
        log_before,
        pruned: snapshots.iter().any(|s| s.label == "pruned"),
    })
}

fn plain_at(
    store: &Store,
    run_id: &str,
    instant: Instant,
    log_limit: usize,
) -> Result<ReplayState> {
    let exec = crate::runs::get(store, run_id)?;
    let events = crate::runs::all_events(store, &exec.id)?;
    // The timeline starts when the run was queued, then each status change.
    let queued = (exec.queued_at, "queued".to_string());
    let changes = events
        .iter()
        .filter(|e| e.kind == "status" && e.data != "queued")
        .map(|e| (e.at, e.data.clone()));
    let pruned = events.iter().any(|e| e.kind == "pruned");
    // A pruned run's status changes are gone; its end is what is known.
    let end = exec
        .finished_at
        .filter(|_| pruned)
        .map(|at| (at, exec.status.to_string()));
    let marks: Vec<ReplayMark> = std::iter::once(queued)
        .chain(changes)
        .chain(end)
        .enumerate()
        .map(|(i, (at, label))| ReplayMark {
            seq: i as u32,
            at,
            label,
            step_id: None,
        })
        .collect();
    let times: Vec<Timestamp> = marks.iter().map(|m| m.at).collect();
    let (t, k) = resolve(instant, &times)?;
    let lines: Vec<ReplayLine> = events
        .into_iter()
        .filter(|e| e.at <= t && is_log(e))
        .map(|e| ReplayLine {
            step: None,
            at: e.at,
            kind: e.kind,
            data: e.data,
        })
        .collect();
    let (log, log_before) = tail(lines, log_limit);
    Ok(ReplayState {
        run_id: exec.id.clone(),
        kind: "run".into(),
        what: exec.spec.kind().to_string(),
        at: t,
        position: position(k, marks.len()),
        status: k.map_or_else(|| "not yet queued".to_string(), |k| marks[k].label.clone()),
        mark: k.map(|k| marks[k].clone()),
        previous: k.and_then(|k| k.checked_sub(1)).map(|p| marks[p].clone()),
        next: marks.get(k.map_or(0, |k| k + 1)).cloned(),
        marks: marks.len() as u32,
        steps: Vec::new(),
        checkpoint: None,
        log,
        log_before,
        pruned,
    })
}

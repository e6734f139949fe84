//! The engine: one function, [`advance_in`], moves a run as far as it can go inside the
//! caller's write: it reads the outcome of every step run that ended, applies approvals,
//! pause and cancel, starts the steps that are ready (up to the concurrency limit), and
//! writes the checkpoint and a snapshot at every boundary, all in one transaction. The
//! runner calls it when a step's run ends (in the write that ends it, so a step's end and
//! the checkpoint commit together); the driver calls it on control changes and at start.

use flightdeck_types::{
    AttemptRecord, Checkpoint, Execution, RunControl, Snapshot, StepStatus, WorkflowDefinition,
    WorkflowRun, WorkflowRunStatus,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;

use crate::error::Result;
use crate::store::{workflows as sql, Writer};

mod clock;
mod control;
pub mod fanout;
mod index;
mod parents;
mod steps;

#[cfg(debug_assertions)]
use clock::unnoted_moves;
use clock::{after, resume_deadlines, span, timed_out};
pub use control::decide_in;
use control::{cancel_steps, running_groups};
pub use parents::start_for_execution;
use parents::{finish_parent_execution, parent_cancelled};
use steps::{reconcile_steps, start_ready_steps};

/// Process groups to signal once the write commits (signals are not transactional).
#[derive(Debug, Default)]
pub struct Effects {
    /// `process` event records of shell steps to SIGSTOP (paused) or SIGCONT (resumed).
    pub stop: Vec<String>,
    pub resume: Vec<String>,
}

impl Effects {
    pub fn apply(&self) {
        use crate::runs::executors::shell::signal_recorded_group;
        use nix::sys::signal::Signal;
        for record in &self.stop {
            signal_recorded_group(record, Signal::SIGSTOP);
        }
        for record in &self.resume {
            signal_recorded_group(record, Signal::SIGCONT);
        }
    }
}

/// Reads a run and the definition version it pinned.
pub fn load(w: &Writer<'_>, run_id: &str) -> Result<(WorkflowRun, Arc<WorkflowDefinition>)> {
    let run = sql::find_run(w, run_id)?;
    let definition = definition(w, &run.workflow_id, run.version)?;
    Ok((run, definition))
}

/// [`load`] for [`advance_in`], which gives the run's steps back (`sql::keep_steps`) when
/// it is done with them, so that the next boundary neither parses nor copies them.
fn take(w: &Writer<'_>, run_id: &str) -> Result<(WorkflowRun, Arc<WorkflowDefinition>)> {
    let run = sql::take_run(w, run_id)?;
    let definition = definition(w, &run.workflow_id, run.version)?;
    Ok((run, definition))
}

/// A definition version, parsed once per process per text: the row's text is read every time
/// (a point read), so a row that changed under the cache (one written before version ids
/// were derived from content, then merged by sync) is never served stale; parsing a long
/// definition at every step boundary was most of a step's cost.
fn definition(w: &Writer<'_>, id: &str, version: u32) -> Result<Arc<WorkflowDefinition>> {
    type Cache = Mutex<HashMap<String, Arc<WorkflowDefinition>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let text = sql::definition_text(w, id, version)?;
    if let Some(d) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&text) {
        return Ok(d.clone());
    }
    let parsed: WorkflowDefinition = serde_json::from_str(&text)
        .map_err(|e| crate::CoreError::Corrupt(format!("workflow {id} v{version}: {e}")))?;
    let parsed = Arc::new(parsed);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= 256 {
        map.clear();
    }
    map.insert(text, parsed.clone());
    Ok(parsed)
}

/// Records a boundary. The snapshot's state is the checkpoint's change at this boundary
/// (the step that moved, with its outputs), not the whole checkpoint again: whole copies made
/// a run's snapshots grow with the square of its steps (about 16 MB for a 200-step chain,
/// every byte of it synced). [`super::snapshots`] rebuilds each boundary's whole checkpoint.
fn boundary(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    step_id: Option<&str>,
    label: &str,
) -> Result<()> {
    record(w, run, step_id, label, None)
}

/// The boundary where an attempt of a step ended: its snapshot names that attempt's run and
/// carries the times that run really started and ended (a retry's boundary is not the next
/// attempt's).
fn attempt_boundary(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    key: &str,
    label: &str,
    attempt: &AttemptRecord,
) -> Result<()> {
    record(w, run, Some(key), label, Some(attempt))
}

fn record(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    step_id: Option<&str>,
    label: &str,
    attempt: Option<&AttemptRecord>,
) -> Result<()> {
    let inputs = step_id
        .and_then(|id| run.checkpoint.steps.get(id))
        .and_then(|s| s.inputs.clone());
    // A finished step's rendered inputs live on in its snapshots; the checkpoint, rewritten
    // at every boundary, keeps only what later steps and a resume need.
    if let Some(id) = step_id {
        if let Some(s) = run
            .checkpoint
            .steps
            .get_mut(id)
            .filter(|s| s.status.is_final() && s.inputs.is_some())
        {
            s.inputs = None;
            run.checkpoint.moved.0.insert(id.to_string());
        }
    }
    let state = step_id.and_then(|id| run.checkpoint.steps.get(id));
    let change = Checkpoint {
        params: serde_json::Map::new(),
        steps: match (step_id, state) {
            (Some(id), Some(s)) => [(id.to_string(), s.clone())].into(),
            _ => Default::default(),
        },
        boundaries: run.checkpoint.boundaries + 1,
        // Small, and time travel needs them as they stood here.
        deadline: run.checkpoint.deadline,
        paused_at: run.checkpoint.paused_at,
        ..Default::default()
    };
    let snapshot = Snapshot {
        id: crate::ids::new_id(),
        workflow_run_id: run.id.clone(),
        execution_id: match attempt {
            Some(a) => Some(a.execution_id.clone()),
            None => state.and_then(|s| s.execution_id.clone()),
        },
        seq: run.checkpoint.boundaries,
        step_id: step_id.map(String::from),
        label: label.to_string(),
        inputs: inputs.unwrap_or(json!({})),
        outputs: state
            .map(|s| serde_json::to_value(&s.outputs).expect("outputs always serialize"))
            .unwrap_or(json!({})),
        checkpoint: change,
        // A finished step's boundary carries its timing; any other is stamped with now (a
        // retry's boundary is when the next attempt was queued, not when the first began).
        started_at: match attempt {
            Some(a) => a.started_at.unwrap_or(w.now()),
            None => state
                .filter(|s| s.status.is_final())
                .and_then(|s| s.started_at)
                .unwrap_or(w.now()),
        },
        finished_at: match attempt {
            Some(a) => a.finished_at,
            None => state
                .filter(|s| s.status.is_final())
                .and_then(|s| s.finished_at),
        },
        recorded_at: Some(w.now()),
    };
    run.checkpoint.boundaries += 1;
    sql::insert_snapshot(w, &snapshot)
}

/// Records a boundary of the run's own status (`interrupted`, `adopted`) from outside a move
/// of the engine, with `inputs` saying why, and saves the run: a change of nothing but the
/// status, as [`boundary`] records one.
pub(crate) fn status_boundary(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    label: &str,
    inputs: serde_json::Value,
) -> Result<()> {
    run.updated_at = w.now();
    let snapshot = Snapshot {
        id: crate::ids::new_id(),
        workflow_run_id: run.id.clone(),
        execution_id: None,
        seq: run.checkpoint.boundaries,
        step_id: None,
        label: label.to_string(),
        inputs,
        outputs: json!({}),
        checkpoint: Checkpoint {
            deadline: run.checkpoint.deadline,
            paused_at: run.checkpoint.paused_at,
            ..Default::default()
        },
        started_at: w.now(),
        finished_at: None,
        recorded_at: Some(w.now()),
    };
    sql::insert_snapshot(w, &snapshot)?;
    run.checkpoint.boundaries += 1;
    // Only the status and the boundary count moved: no step row is written.
    sql::save_run_state(w, run, Some(&Default::default()))
}

/// Moves run `run_id` on as far as it can go now. Only its runner device acts; elsewhere
/// this does nothing.
pub fn advance_in(w: &mut Writer<'_>, run_id: &str) -> Result<Effects> {
    let (mut run, def) = take(w, run_id)?;
    let effects = advance_run(w, &mut run, &def, &index::of(&def))?;
    sql::keep_steps(w, &run.id, std::mem::take(&mut run.checkpoint.steps));
    Ok(effects)
}

fn advance_run(
    w: &mut Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    index: &index::StepIndex,
) -> Result<Effects> {
    let mut effects = Effects::default();
    if run.status.is_final() || run.device_id.as_deref() != Some(w.device_id()) {
        return Ok(effects);
    }
    // What moves is noted as it moves (`Checkpoint::set_step`): a boundary compares and
    // writes the steps it touched, not a copy of every step (which at step 1,000 of a chain
    // was a third of its cost).
    let steps = std::mem::take(&mut run.checkpoint.steps);
    let before = run.clone();
    run.checkpoint.steps = steps;
    run.checkpoint.moved.0.clear();
    #[cfg(debug_assertions)]
    let before_steps = run.checkpoint.steps.clone();
    let now = w.now();
    if run.control != RunControl::Pause {
        resume_deadlines(run, now);
    }
    if run.started_at.is_none() && run.checkpoint.deadline.is_none() {
        run.checkpoint.deadline = def.timeout_secs.map(|s| after(now, s));
    }
    let timed_out = timed_out(run, now);
    if timed_out && run.error.is_none() {
        run.error = Some(format!(
            "timed out after {} (the workflow's `timeout`, paused time not counted); its \
             running steps were stopped",
            span(def.timeout_secs.unwrap_or_default())
        ));
    }
    let cancel = run.control == RunControl::Cancel || timed_out || parent_cancelled(w, run)?;

    reconcile_steps(w, run, def)?;

    if cancel {
        cancel_steps(w, run, def, &mut effects)?;
        // Cleanup and notification (`if: always`, `if: failure`) run after a cancel too.
        start_ready_steps(w, run, def, index, true)?;
    } else if run.control == RunControl::Pause {
        if run.status != WorkflowRunStatus::Paused {
            run.status = WorkflowRunStatus::Paused;
            run.checkpoint.paused_at = Some(now);
            boundary(w, run, None, "paused")?;
            control_children(w, run, RunControl::Pause)?;
        }
        effects.stop = running_groups(w, run)?;
    } else {
        if run.status == WorkflowRunStatus::Paused {
            run.status = WorkflowRunStatus::Running;
            boundary(w, run, None, "resumed")?;
            effects.resume = running_groups(w, run)?;
            control_children(w, run, RunControl::Run)?;
        }
        // After a failure only handler steps start (see `start_ready_steps`).
        let failed = blocking_failure(run, def).is_some();
        start_ready_steps(w, run, def, index, failed)?;
    }

    if !cancel && close_normal_steps(w, run, def)? {
        // The steps it closed may be what a handler (`if: always` / `if: failure`) needs:
        // it starts in this move, not at the driver's next look.
        start_ready_steps(w, run, def, index, true)?;
    }
    settle_status(w, run, def, cancel, timed_out)?;
    if run.started_at.is_none() && run.status != WorkflowRunStatus::Queued {
        run.started_at = Some(now);
    }
    #[cfg(debug_assertions)]
    unnoted_moves(&before_steps, &run.checkpoint);
    let steps = std::mem::take(&mut run.checkpoint.steps);
    let head_moved = *run != before;
    run.checkpoint.steps = steps;
    if head_moved || !run.checkpoint.moved.0.is_empty() {
        run.updated_at = now;
        sql::save_run_state(w, run, Some(&run.checkpoint.moved.0))?;
        // A transition: the engine's own move, which the driver need not look at again
        // (it wakes for what people and other devices change).
        w.touched(
            "workflow_runs",
            &run.id,
            flightdeck_types::AuditAction::Transition,
        );
        if run.status.is_final() {
            finish_parent_execution(w, run)?;
        }
    }
    Ok(effects)
}

/// Pauses (or resumes) the child workflow runs of this run's running `workflow:` steps, as
/// cancelling it cancels them.
fn control_children(w: &mut Writer<'_>, run: &WorkflowRun, to: RunControl) -> Result<()> {
    for state in run.checkpoint.steps.values() {
        let (StepStatus::Running, Some(exec)) = (state.status, &state.execution_id) else {
            continue;
        };
        let Some(child) = sql::run_of_parent_execution(w, exec)? else {
            continue;
        };
        let child_run = sql::find_run(w, &child)?;
        if child_run.status.is_final()
            || child_run.control == to
            || child_run.control == RunControl::Cancel
        {
            continue;
        }
        sql::set_control(w, &child, to)?;
        w.touched(
            "workflow_runs",
            &child,
            flightdeck_types::AuditAction::Update,
        );
    }
    Ok(())
}

/// Whether run `run_id` is only waiting, so that moving it on would change nothing: waiting
/// for approvals none of which has been given, running steps none of whose runs ended, or
/// paused with none of its steps' runs ended; in each case with no deadline passed, no control
/// change and no cancelled parent to act on. (A running run's other moves all follow one of
/// these: a pending step starts when a step it needs ends, or a slot frees as one ends.) The
/// driver's safety-net poll skips such a run: a run whose steps take an hour costs no write
/// transaction four times a second while they do.
pub fn is_waiting(c: &rusqlite::Connection, run_id: &str) -> Result<bool> {
    let run = sql::find_run(c, run_id)?;
    if let Some(parent) = &run.parent_execution_id {
        if crate::store::executions::cancel_requested_at(c, parent)?.is_some() {
            return Ok(false);
        }
    }
    let waiting = matches!(
        (run.status, run.control),
        (WorkflowRunStatus::WaitingApproval, RunControl::Run)
            | (WorkflowRunStatus::Running, RunControl::Run)
            | (WorkflowRunStatus::Paused, RunControl::Pause)
    );
    if !waiting {
        return Ok(false);
    }
    let now = crate::clock::now();
    if timed_out(&run, now) {
        return Ok(false);
    }
    for (id, state) in &run.checkpoint.steps {
        // An approval whose `timeout` passed is decided by its `on_timeout`.
        if run.checkpoint.paused_at.is_none() && state.deadline.is_some_and(|d| now >= d) {
            return Ok(false);
        }
        match (state.status, &state.execution_id) {
            (StepStatus::WaitingApproval, _) if sql::approval(c, &run.id, id)?.is_some() => {
                return Ok(false)
            }
            (StepStatus::Running, Some(exec))
                if crate::store::executions::status(c, exec)?.is_final() =>
            {
                return Ok(false)
            }
            _ => {}
        }
    }
    Ok(true)
}

/// The failed step that fails the run (one without `continue_on_failure`): the first of the
/// ordinary steps, so a handler's own failure never hides what went wrong first; a handler's
/// when no ordinary step failed.
fn blocking_failure<'a>(run: &WorkflowRun, def: &'a WorkflowDefinition) -> Option<&'a str> {
    // Most calls find nothing failed: say so without a lookup per step.
    if !run
        .checkpoint
        .steps
        .values()
        .any(|s| s.status == StepStatus::Failed)
    {
        return None;
    }
    let failed = |s: &&'a flightdeck_types::StepDefinition| {
        run.checkpoint
            .steps
            .get(&s.id)
            .is_some_and(|st| st.status == StepStatus::Failed && !s.continue_on_failure)
    };
    let ordinary = def.steps.iter().filter(|s| s.run_if.is_none()).find(failed);
    ordinary
        .or_else(|| def.steps.iter().find(failed))
        .map(|s| s.id.as_str())
}

/// When every other step ended and nothing failed, `if: failure` steps will never run: each is
/// `skipped`, so the run can succeed.
fn skip_failure_handlers(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    cancel: bool,
) -> Result<()> {
    let handler =
        |s: &flightdeck_types::StepDefinition| s.run_if == Some(flightdeck_types::RunIf::Failure);
    // Most workflows have no such step: then nothing to look up.
    if cancel || !def.steps.iter().any(handler) {
        return Ok(());
    }
    let rest_done = def.steps.iter().filter(|s| !handler(s)).all(|s| {
        run.checkpoint
            .steps
            .get(&s.id)
            .is_some_and(|st| st.status.is_final())
    });
    if cancel || !rest_done || blocking_failure(run, def).is_some() {
        return Ok(());
    }
    for step in def.steps.iter().filter(|s| handler(s)) {
        let Some(state) = run.checkpoint.steps.get(&step.id) else {
            continue;
        };
        if state.status != StepStatus::Pending {
            continue;
        }
        let mut new = state.clone();
        new.status = StepStatus::Skipped;
        new.error = Some("skipped: the run did not fail".into());
        new.finished_at = Some(w.now());
        run.checkpoint.set_step(step.id.clone(), new);
        boundary(w, run, Some(&step.id), "skipped")?;
    }
    Ok(())
}

/// After a failure: the ordinary steps that have not started never will; each ends
/// `cancelled`, with a boundary of its own, saying which step failed. Returns whether it
/// ended any.
fn close_normal_steps(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
) -> Result<bool> {
    let Some(failed) = blocking_failure(run, def).map(String::from) else {
        return Ok(false);
    };
    let mut closed = false;
    for step in def.steps.iter().filter(|s| s.run_if.is_none()) {
        let Some(state) = run.checkpoint.steps.get(&step.id) else {
            continue;
        };
        if !matches!(
            state.status,
            StepStatus::Pending | StepStatus::WaitingApproval
        ) {
            continue;
        }
        let mut new = state.clone();
        new.status = StepStatus::Cancelled;
        new.error = Some(format!("not run: step `{failed}` failed"));
        new.finished_at = Some(w.now());
        run.checkpoint.set_step(step.id.clone(), new);
        boundary(w, run, Some(&step.id), "cancelled")?;
        closed = true;
    }
    Ok(closed)
}

/// Sets the run's status from its steps: final once nothing runs and either every step is
/// done, a step failed, or a cancel was asked for.
fn settle_status(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    cancel: bool,
    timed_out: bool,
) -> Result<()> {
    skip_failure_handlers(w, run, def, cancel)?;
    let steps = &run.checkpoint.steps;
    let running = steps.values().any(|s| s.status == StepStatus::Running);
    let waiting = steps
        .values()
        .any(|s| s.status == StepStatus::WaitingApproval);
    // Looked up only when nothing runs (a step lookup each: not at every boundary).
    let all_done = || {
        def.steps
            .iter()
            .all(|s| steps.get(&s.id).is_some_and(|st| st.status.is_final()))
    };
    let failure = blocking_failure(run, def).map(String::from);
    // Handler steps still to come (their needs not yet ended) keep an ending run open.
    let open = steps.values().any(|s| !s.status.is_final());
    let next = if running {
        match run.status {
            WorkflowRunStatus::Paused if !cancel => WorkflowRunStatus::Paused,
            _ => WorkflowRunStatus::Running,
        }
    } else if (cancel || failure.is_some()) && open {
        if run.status == WorkflowRunStatus::Paused && !cancel {
            WorkflowRunStatus::Paused
        } else if waiting {
            WorkflowRunStatus::WaitingApproval
        } else {
            WorkflowRunStatus::Running
        }
    } else if cancel {
        WorkflowRunStatus::Cancelled
    } else if let Some(step) = failure {
        let why = steps[&step]
            .error
            .clone()
            .unwrap_or_else(|| "failed".into());
        run.error = Some(format!("step `{step}` failed: {why}"));
        WorkflowRunStatus::Failed
    } else if all_done() {
        WorkflowRunStatus::Succeeded
    } else if run.status == WorkflowRunStatus::Paused {
        WorkflowRunStatus::Paused
    } else if waiting {
        WorkflowRunStatus::WaitingApproval
    } else {
        WorkflowRunStatus::Running
    };
    // A run stopped by its own `timeout` failed: nobody asked for it to end.
    let next = match next {
        WorkflowRunStatus::Cancelled if timed_out => WorkflowRunStatus::Failed,
        next => next,
    };
    if next == WorkflowRunStatus::Cancelled && run.error.is_none() {
        run.error = Some("cancelled".into());
    }
    if next != run.status {
        run.status = next;
        if next.is_final() {
            run.finished_at = Some(w.now());
        }
        boundary(w, run, None, next.as_str())?;
    }
    Ok(())
}

/// Called by the runner in the write that ends a run: a step's end moves its workflow run on.
pub fn on_execution_finished(w: &mut Writer<'_>, exec: &Execution) -> Result<()> {
    if let Some(run_id) = &exec.workflow_run_id {
        advance_in(w, run_id)?;
    }
    Ok(())
}

//! The engine: one function, [`advance_in`], moves a run as far as it can go inside the
//! caller's write: it reads the outcome of every step run that ended, applies approvals,
//! pause and cancel, starts the steps that are ready (up to the concurrency limit), and
//! writes the checkpoint and a snapshot at every boundary, all in one transaction. The
//! runner calls it when a step's run ends (in the write that ends it, so a step's end and
//! the checkpoint commit together); the driver calls it on control changes and at start.

use flightdeck_types::{
    AgentThreadSpec, Approval, Checkpoint, Decision, Execution, ExecutionSpec, ExecutionStatus,
    HttpSpec, RetryPolicy, RunControl, ShellSpec, Snapshot, StepAction, StepDefinition, StepState,
    StepStatus, WorkflowDefinition, WorkflowRun, WorkflowRunStatus, WorkflowSpec,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use super::templates;
use crate::error::{CoreError, Result};
use crate::store::{executions, workflows as sql, Writer};

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

/// A definition version, parsed once per process: `(id, version)` rows never change, and
/// parsing a long definition at every step boundary was most of a step's cost.
fn definition(w: &Writer<'_>, id: &str, version: u32) -> Result<Arc<WorkflowDefinition>> {
    type Cache = Mutex<HashMap<(String, u32), Arc<WorkflowDefinition>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (id.to_string(), version);
    if let Some(d) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(d.clone());
    }
    let parsed = Arc::new(sql::version(w, id, version)?.definition);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= 256 {
        map.clear();
    }
    map.insert(key, parsed.clone());
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
            .filter(|s| s.status.is_final())
        {
            s.inputs = None;
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
    };
    let snapshot = Snapshot {
        id: crate::ids::new_id(),
        workflow_run_id: run.id.clone(),
        execution_id: state.and_then(|s| s.execution_id.clone()),
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
        started_at: state
            .filter(|s| s.status.is_final())
            .and_then(|s| s.started_at)
            .unwrap_or(w.now()),
        finished_at: state
            .filter(|s| s.status.is_final())
            .and_then(|s| s.finished_at),
    };
    run.checkpoint.boundaries += 1;
    sql::insert_snapshot(w, &snapshot)
}

/// Moves run `run_id` on as far as it can go now. Only its runner device acts; elsewhere
/// this does nothing.
pub fn advance_in(w: &mut Writer<'_>, run_id: &str) -> Result<Effects> {
    let (mut run, def) = load(w, run_id)?;
    let mut effects = Effects::default();
    if run.status.is_final() || run.device_id.as_deref() != Some(w.device_id()) {
        return Ok(effects);
    }
    let before = run.clone();
    let now = w.now();
    let cancel = run.control == RunControl::Cancel || parent_cancelled(w, &run)?;

    reconcile_steps(w, &mut run, &def)?;

    if cancel {
        cancel_steps(w, &mut run, &mut effects)?;
    } else if run.control == RunControl::Pause {
        if run.status != WorkflowRunStatus::Paused {
            run.status = WorkflowRunStatus::Paused;
            boundary(w, &mut run, None, "paused")?;
        }
        effects.stop = running_groups(w, &run)?;
    } else {
        if run.status == WorkflowRunStatus::Paused {
            run.status = WorkflowRunStatus::Running;
            boundary(w, &mut run, None, "resumed")?;
            effects.resume = running_groups(w, &run)?;
        }
        if blocking_failure(&run, &def).is_none() {
            start_ready_steps(w, &mut run, &def)?;
        }
    }

    settle_status(w, &mut run, &def, cancel)?;
    if run.started_at.is_none() && run.status != WorkflowRunStatus::Queued {
        run.started_at = Some(now);
    }
    if run != before {
        run.updated_at = now;
        sql::save_run_state(w, &run)?;
        w.touched(
            "workflow_runs",
            &run.id,
            flightdeck_types::AuditAction::Update,
        );
        if run.status.is_final() {
            finish_parent_execution(w, &run)?;
        }
    }
    Ok(effects)
}

/// A run started by a run (a schedule's fire, a parent's step) whose cancel was asked for.
fn parent_cancelled(w: &Writer<'_>, run: &WorkflowRun) -> Result<bool> {
    match &run.parent_execution_id {
        Some(id) => Ok(executions::cancel_requested_at(w, id)?.is_some()),
        None => Ok(false),
    }
}

/// Brings the checkpoint up to date with the step runs that ended and the approvals given.
fn reconcile_steps(w: &Writer<'_>, run: &mut WorkflowRun, def: &WorkflowDefinition) -> Result<()> {
    for step in &def.steps {
        let Some(state) = run
            .checkpoint
            .steps
            .get(&step.id)
            .filter(|s| matches!(s.status, StepStatus::Running | StepStatus::WaitingApproval))
            .cloned()
        else {
            continue;
        };
        match state.status {
            StepStatus::Running => {
                let Some(exec_id) = &state.execution_id else {
                    continue;
                };
                let exec = executions::find(w, exec_id)?;
                if !exec.status.is_final() {
                    continue;
                }
                let mut new = state.clone();
                new.outputs = outputs_of(&exec);
                new.error = exec.error.clone();
                let label = match executions::retry_of(w, exec_id)? {
                    // Recovery queued the next attempt in the write that ended this one.
                    Some(retry) => {
                        new.execution_id = Some(retry.id.clone());
                        new.attempt = retry.attempt;
                        "retrying"
                    }
                    _ => {
                        new.finished_at = exec.finished_at.or(Some(w.now()));
                        new.status = match exec.status {
                            ExecutionStatus::Succeeded => StepStatus::Succeeded,
                            ExecutionStatus::Cancelled => StepStatus::Cancelled,
                            _ => StepStatus::Failed,
                        };
                        new.status.as_str()
                    }
                };
                run.checkpoint.steps.insert(step.id.clone(), new);
                boundary(w, run, Some(&step.id), label)?;
            }
            StepStatus::WaitingApproval => {
                let Some(approval) = sql::approval(w, &run.id, &step.id)? else {
                    continue;
                };
                let mut new = state.clone();
                new.status = match approval.decision {
                    Decision::Approved => StepStatus::Succeeded,
                    Decision::Rejected => StepStatus::Failed,
                };
                new.error = (approval.decision == Decision::Rejected).then(|| {
                    format!(
                        "rejected{}",
                        approval
                            .comment
                            .as_deref()
                            .map(|c| format!(": {c}"))
                            .unwrap_or_default()
                    )
                });
                new.finished_at = Some(w.now());
                let label = approval.decision.as_str();
                new.outputs.approval = Some(approval);
                run.checkpoint.steps.insert(step.id.clone(), new);
                boundary(w, run, Some(&step.id), label)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// What a step's run leaves for later steps: its exit code or HTTP status, its JSON result
/// and its `$FLIGHTDECK_OUTPUT` values (the runner stores the last two in the run's result).
fn outputs_of(exec: &Execution) -> flightdeck_types::StepOutputs {
    let result = exec.result.as_ref();
    let values = result
        .and_then(|r| r.get("outputs"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let http_status = match exec.spec {
        ExecutionSpec::Http(_) => result
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64)
            .map(|s| s as u16),
        _ => None,
    };
    flightdeck_types::StepOutputs {
        exit_code: exec.exit_code,
        status: http_status,
        json: result.and_then(|r| r.get("json")).cloned(),
        values,
        approval: None,
    }
}

fn running_groups(w: &Writer<'_>, run: &WorkflowRun) -> Result<Vec<String>> {
    let mut groups = Vec::new();
    for state in run.checkpoint.steps.values() {
        if state.status != StepStatus::Running {
            continue;
        }
        if let Some(id) = &state.execution_id {
            if let Some(p) = executions::last_event_of_kind(w, id, "process")? {
                groups.push(p.data);
            }
        }
    }
    Ok(groups)
}

/// Asks every running step to stop and cancels the ones not started. The run ends
/// `cancelled` once no step is running any more.
fn cancel_steps(w: &mut Writer<'_>, run: &mut WorkflowRun, effects: &mut Effects) -> Result<()> {
    // A paused group must run again to act on the SIGTERM the runner sends.
    effects.resume = running_groups(w, run)?;
    let ids: Vec<String> = run.checkpoint.steps.keys().cloned().collect();
    for id in ids {
        let state = run.checkpoint.steps[&id].clone();
        match state.status {
            StepStatus::Running => {
                if let Some(exec_id) = &state.execution_id {
                    let exec = executions::find(w, exec_id)?;
                    if !exec.status.is_final() && exec.cancel_requested_at.is_none() {
                        executions::request_cancel(w, exec_id, w.now())?;
                        w.touched("executions", exec_id, flightdeck_types::AuditAction::Update);
                    }
                    if let Some(child) = sql::run_of_parent_execution(w, exec_id)? {
                        sql::set_control(w, &child, RunControl::Cancel)?;
                        w.touched(
                            "workflow_runs",
                            &child,
                            flightdeck_types::AuditAction::Update,
                        );
                    }
                }
            }
            StepStatus::Pending | StepStatus::WaitingApproval => {
                let mut new = state.clone();
                new.status = StepStatus::Cancelled;
                new.finished_at = Some(w.now());
                run.checkpoint.steps.insert(id.clone(), new);
                boundary(w, run, Some(&id), "cancelled")?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The first failed step that fails the run (one without `continue_on_failure`).
fn blocking_failure<'a>(run: &WorkflowRun, def: &'a WorkflowDefinition) -> Option<&'a str> {
    def.steps.iter().find_map(|s| {
        let state = run.checkpoint.steps.get(&s.id)?;
        (state.status == StepStatus::Failed && !s.continue_on_failure).then_some(s.id.as_str())
    })
}

/// Starts every pending step whose needs are done, in file order, while the concurrency
/// limit allows; skips those whose `when` is false or whose needs were skipped.
fn start_ready_steps(
    w: &mut Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
) -> Result<()> {
    loop {
        let mut changed = false;
        let mut running = run
            .checkpoint
            .steps
            .values()
            .filter(|s| s.status == StepStatus::Running)
            .count() as u32;
        for step in &def.steps {
            let state = run.checkpoint.steps.get(&step.id);
            if state.map(|s| s.status) != Some(StepStatus::Pending) {
                continue;
            }
            let needs: Vec<(&StepDefinition, &StepState)> = step
                .needs
                .iter()
                .filter_map(|n| Some((def.step(n)?, run.checkpoint.steps.get(n)?)))
                .collect();
            if needs.iter().any(|(_, s)| !s.status.is_final()) {
                continue;
            }
            let ctx = templates::context(run, &run.checkpoint);
            let blocked = needs
                .iter()
                .find(|(d, s)| !templates::lets_dependants_run(s, d))
                .map(|(d, _)| d.id.clone());
            let verdict = match blocked {
                Some(need) => Err(format!("skipped: step `{need}` did not pass")),
                None => templates::condition_holds(step, &ctx)
                    .map_err(|e| format!("`when` failed: {e}"))
                    .and_then(|holds| if holds { Ok(()) } else { Err(String::new()) }),
            };
            match verdict {
                Err(why) if why.starts_with("`when` failed") => {
                    fail_step(w, run, &step.id, why)?;
                    changed = true;
                    continue;
                }
                Err(why) => {
                    let mut new = StepState::pending();
                    new.status = StepStatus::Skipped;
                    new.error = (!why.is_empty()).then_some(why);
                    new.finished_at = Some(w.now());
                    run.checkpoint.steps.insert(step.id.clone(), new);
                    boundary(w, run, Some(&step.id), "skipped")?;
                    changed = true;
                    continue;
                }
                Ok(()) => {}
            }
            let is_approval = matches!(step.action, StepAction::Approval { .. });
            if !is_approval && running >= def.concurrency {
                continue;
            }
            let rendered = match templates::render_step(step, &ctx) {
                Ok(r) => r,
                Err(e) => {
                    fail_step(
                        w,
                        run,
                        &step.id,
                        format!("its inputs could not be rendered: {e}"),
                    )?;
                    changed = true;
                    continue;
                }
            };
            let mut new = StepState::pending();
            new.inputs = Some(serde_json::to_value(&rendered).expect("steps always serialize"));
            new.started_at = Some(w.now());
            if is_approval {
                new.status = StepStatus::WaitingApproval;
                run.checkpoint.steps.insert(step.id.clone(), new);
                boundary(w, run, Some(&step.id), "waiting_approval")?;
                changed = true;
                continue;
            }
            match step_spec(w, run, &rendered) {
                Ok(spec) => {
                    let exec = crate::runs::queue_in(
                        w,
                        flightdeck_types::NewExecution {
                            task_id: run.task_id.clone(),
                            environment_id: run.environment_id.clone(),
                            workflow_run_id: Some(run.id.clone()),
                            step_id: Some(step.id.clone()),
                            spec: Some(spec),
                            device_id: run.device_id.clone(),
                            retry_policy: Some(
                                step.retry.clone().unwrap_or_else(RetryPolicy::default),
                            ),
                            ..Default::default()
                        },
                    )?;
                    new.status = StepStatus::Running;
                    new.attempt = exec.attempt;
                    new.execution_id = Some(exec.id);
                    run.checkpoint.steps.insert(step.id.clone(), new);
                    boundary(w, run, Some(&step.id), "started")?;
                    running += 1;
                }
                Err(e) => {
                    run.checkpoint.steps.insert(step.id.clone(), new);
                    fail_step(w, run, &step.id, e.to_string())?;
                }
            }
            changed = true;
        }
        if !changed || blocking_failure(run, def).is_some() {
            return Ok(());
        }
    }
}

fn fail_step(w: &Writer<'_>, run: &mut WorkflowRun, id: &str, error: String) -> Result<()> {
    let mut new = run
        .checkpoint
        .steps
        .get(id)
        .cloned()
        .unwrap_or_else(StepState::pending);
    new.status = StepStatus::Failed;
    new.error = Some(error);
    new.finished_at = Some(w.now());
    run.checkpoint.steps.insert(id.to_string(), new);
    boundary(w, run, Some(id), "failed")
}

/// What a rendered step runs.
fn step_spec(w: &Writer<'_>, run: &WorkflowRun, step: &StepDefinition) -> Result<ExecutionSpec> {
    Ok(match &step.action {
        StepAction::Shell { line } => ExecutionSpec::Shell(ShellSpec {
            line: Some(line.clone()),
            working_dir: step.working_dir.clone(),
            env: step.env.clone(),
            timeout_secs: step.timeout_secs,
            ..ShellSpec::default()
        }),
        StepAction::Http {
            method,
            url,
            headers,
            body,
        } => ExecutionSpec::Http(HttpSpec {
            method: method.clone(),
            url: url.clone(),
            headers: headers.clone(),
            body: body.clone(),
            timeout_secs: step.timeout_secs,
        }),
        StepAction::AgentThread {
            base_url,
            thread_id,
            message,
        } => ExecutionSpec::AgentThread(AgentThreadSpec {
            base_url: base_url.clone(),
            thread_id: thread_id.clone(),
            message: message.clone(),
            timeout_secs: step.timeout_secs,
        }),
        StepAction::Agent { prompt } => {
            let env_id = run.environment_id.as_deref().ok_or_else(|| {
                CoreError::invalid(
                    "environment",
                    "an `agent` step runs the environment's agent command; start the run \
                     with --env ENV or give the workflow an `environment`",
                )
            })?;
            let environment = crate::environments::resolve(w, env_id)?;
            ExecutionSpec::Shell(ShellSpec {
                line: Some(crate::runs::agent_cli::agent_cli_line(
                    &environment,
                    prompt,
                )?),
                working_dir: step.working_dir.clone(),
                env: step.env.clone(),
                timeout_secs: step.timeout_secs,
                ..ShellSpec::default()
            })
        }
        StepAction::Workflow { workflow, params } => ExecutionSpec::Workflow(WorkflowSpec {
            workflow: workflow.clone(),
            params: params
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect(),
            version: None,
        }),
        StepAction::Approval { .. } => unreachable!("approvals run nothing"),
    })
}

/// Sets the run's status from its steps: final once nothing runs and either every step is
/// done, a step failed, or a cancel was asked for.
fn settle_status(
    w: &Writer<'_>,
    run: &mut WorkflowRun,
    def: &WorkflowDefinition,
    cancel: bool,
) -> Result<()> {
    let steps = &run.checkpoint.steps;
    let running = steps.values().any(|s| s.status == StepStatus::Running);
    let waiting = steps
        .values()
        .any(|s| s.status == StepStatus::WaitingApproval);
    let all_done = def
        .steps
        .iter()
        .all(|s| steps.get(&s.id).is_some_and(|st| st.status.is_final()));
    let failure = blocking_failure(run, def).map(String::from);
    let next = if running {
        match run.status {
            WorkflowRunStatus::Paused if !cancel => WorkflowRunStatus::Paused,
            _ => WorkflowRunStatus::Running,
        }
    } else if cancel {
        WorkflowRunStatus::Cancelled
    } else if let Some(step) = failure {
        let why = steps[&step]
            .error
            .clone()
            .unwrap_or_else(|| "failed".into());
        run.error = Some(format!("step `{step}` failed: {why}"));
        // Nothing more will start: what was waiting is cancelled.
        let open: Vec<String> = steps
            .iter()
            .filter(|(_, s)| !s.status.is_final())
            .map(|(id, _)| id.clone())
            .collect();
        for id in open {
            let mut new = run.checkpoint.steps[&id].clone();
            new.status = StepStatus::Cancelled;
            new.error = Some(format!("not run: step `{step}` failed"));
            run.checkpoint.steps.insert(id, new);
        }
        WorkflowRunStatus::Failed
    } else if all_done {
        WorkflowRunStatus::Succeeded
    } else if run.status == WorkflowRunStatus::Paused {
        WorkflowRunStatus::Paused
    } else if waiting {
        WorkflowRunStatus::WaitingApproval
    } else {
        WorkflowRunStatus::Running
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

/// A run started by a run (a schedule's fire or a parent's step) ends that run with it.
fn finish_parent_execution(w: &mut Writer<'_>, run: &WorkflowRun) -> Result<()> {
    let Some(parent_id) = &run.parent_execution_id else {
        return Ok(());
    };
    let old = executions::find(w, parent_id)?;
    if old.status.is_final() {
        return Ok(());
    }
    let mut values = serde_json::Map::new();
    for state in run.checkpoint.steps.values() {
        for (k, v) in &state.outputs.values {
            values.insert(k.clone(), json!(v));
        }
    }
    let new = Execution {
        status: match run.status {
            WorkflowRunStatus::Succeeded => ExecutionStatus::Succeeded,
            WorkflowRunStatus::Cancelled => ExecutionStatus::Cancelled,
            _ => ExecutionStatus::Failed,
        },
        result: Some(json!({
            "workflow_run_id": run.id,
            "status": run.status,
            "outputs": values,
        })),
        error: run.error.clone(),
        finished_at: Some(w.now()),
        ..old.clone()
    };
    let seq = executions::next_event_seq(w, parent_id)?;
    crate::runs::runner::end_in(w, &old, &new, seq)
}

/// Called by the runner in the write that ends a run: a step's end moves its workflow run on.
pub fn on_execution_finished(w: &mut Writer<'_>, exec: &Execution) -> Result<()> {
    if let Some(run_id) = &exec.workflow_run_id {
        advance_in(w, run_id)?;
    }
    Ok(())
}

/// Called by the runner when it claims a `workflow` run: starts the workflow run it names,
/// which ends that run when it ends. A name or parameters that do not resolve end it failed.
pub fn start_for_execution(
    w: &mut Writer<'_>,
    exec: &Execution,
    spec: &WorkflowSpec,
) -> Result<()> {
    let started = super::start::resolve_and_start(
        w,
        &flightdeck_types::StartWorkflow {
            workflow: spec.workflow.clone(),
            version: spec.version,
            text_params: spec
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            task_id: exec.task_id.clone(),
            ..Default::default()
        },
        Some(exec),
    );
    match started {
        Ok(run) => {
            let seq = executions::next_event_seq(w, &exec.id)?;
            executions::insert_event(
                w,
                &flightdeck_types::ExecutionEvent {
                    execution_id: exec.id.clone(),
                    seq,
                    at: w.now(),
                    kind: "workflow".into(),
                    data: format!(
                        "started workflow run {} ({} v{}); follow it with `flightdeck workflow follow {}`",
                        run.id, run.workflow_name, run.version, run.id
                    ),
                },
            )?;
            Ok(())
        }
        Err(CoreError::Sqlite(e)) => Err(CoreError::Sqlite(e)),
        Err(e) => {
            let new = Execution {
                status: ExecutionStatus::Failed,
                error: Some(format!("cannot start workflow `{}`: {e}", spec.workflow)),
                finished_at: Some(w.now()),
                ..exec.clone()
            };
            let seq = executions::next_event_seq(w, &exec.id)?;
            crate::runs::runner::end_in(w, exec, &new, seq)
        }
    }
}

/// An approval or rejection, written on any device; the runner device acts on it.
pub fn decide_in(
    w: &mut Writer<'_>,
    run_id: &str,
    step_id: &str,
    decision: Decision,
    comment: Option<String>,
) -> Result<()> {
    let (run, def) = load(w, run_id)?;
    let step = def.step(step_id).ok_or_else(|| CoreError::NotFound {
        kind: "step",
        key: format!("{step_id} in workflow {}", run.workflow_name),
    })?;
    if !matches!(step.action, StepAction::Approval { .. }) {
        return Err(CoreError::Refused(format!(
            "step `{step_id}` is a {} step, not an approval",
            step.action.executor()
        )));
    }
    let status = run.checkpoint.steps.get(step_id).map(|s| s.status);
    if run.status.is_final() || status.is_some_and(StepStatus::is_final) {
        return Err(CoreError::Refused(format!(
            "step `{step_id}` of run {run_id} is already {}; nothing to decide",
            status.map_or_else(|| run.status.to_string(), |s| s.to_string())
        )));
    }
    if let Some(earlier) = sql::approval(w, run_id, step_id)? {
        return Err(CoreError::Refused(format!(
            "step `{step_id}` was already {} by device {}",
            earlier.decision, earlier.decided_by
        )));
    }
    let approval = Approval {
        decision,
        comment,
        decided_by: w.device_id().to_string(),
        decided_at: w.now(),
    };
    sql::upsert_approval(w, run_id, step_id, &approval)?;
    w.touched(
        "workflow_approvals",
        run_id,
        flightdeck_types::AuditAction::Update,
    );
    Ok(())
}
